"""The one door to Vault (hvac): the KV v2 client, authentication, error translation, Vault's
timestamps, and the network under requests that keeps each call's deadline (wire). May import:
core, settings, observability. Never composio or state.
"""
