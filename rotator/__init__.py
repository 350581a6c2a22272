"""rotator: keeps Composio auth config credentials in step with HashiCorp Vault (KV v2)."""

__version__ = "0.2.0"
