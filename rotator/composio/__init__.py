"""The one door to Composio's API (httpx): the request, the client, the parsing of its
answers, the network under httpx that keeps each call's deadline (wire) and the body read with
its cap on the wire (body). May import: core, settings, observability. Never vault or state.
"""
