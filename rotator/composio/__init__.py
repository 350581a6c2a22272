"""The one door to Composio's API (httpx): the request, the client and the parsing of its
answers. May import: core, settings, observability. Never vault or state.
"""
