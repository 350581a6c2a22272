"""The second HTTP door (httpx): POSTs signed webhook deliveries to ``ROTATOR_WEBHOOK_URL``.
Not part of the Composio door on purpose: another host, another key, another failure domain,
and Composio's client carries its rate limiter, breaker and retry policy, none of which apply.
Its TLS rule is Composio's (plain http only to loopback, checked at start-up). May import: core,
settings, observability. Never vault, composio or state.
"""
