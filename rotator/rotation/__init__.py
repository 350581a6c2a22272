"""The rotation service: one function sequences Vault, Composio and Redis for an auth config
(service), with discovery and bindings (catalog, bindings), previews, verification, the fleet
breaker and the outcome log line. Reaches Vault and Composio through ports only.
"""
