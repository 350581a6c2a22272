"""The one door to Vault (hvac): the KV v2 client, authentication, error translation and Vault's
timestamps. May import: core, settings, observability. Never composio or state.
"""
