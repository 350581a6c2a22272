# rotator's Vault policy: read-only, and only what rotator reads.
#
# Paths assume the defaults: KV v2 mounted at "secret" (ROTATOR_VAULT_MOUNT), the discovery
# prefix "composio/auth_configs" (ROTATOR_VAULT_PREFIX), and the Composio API key kept at
# "composio/rotator" (ROTATOR_COMPOSIO_KEY_PATH=composio/rotator, field "api_key"), a
# convention of this file: rotator itself has no default for it. With other paths, copy this
# file, change the paths and run setup.sh with ROTATOR_POLICY_FILE=<your copy>.
#
# KV v2 splits one logical path into data/ (values) and metadata/ (versions, listing).
# Granted, and nothing else (no create/update/patch/delete, no sys/, no other mount):
#   - read the values of every secret under the prefix, sub-folders included (a rotation);
#   - read the metadata of those secrets (the sweep's and `rotator status`'s version check);
#   - list the prefix and its sub-folders (discovery);
#   - read the Composio API key.
#
# The token also calls auth/token/lookup-self (`rotator check`, token TTL) and
# auth/token/renew-self (renewal before expiry). OpenBao's and Vault's built-in "default"
# policy already grants both (read on lookup-self, update on renew-self), and AppRole and
# Kubernetes logins attach "default" unless the role sets token_no_default_policy=true (the
# roles setup.sh writes never do), so this policy does not repeat them. sys/health, which
# `rotator check` also calls, needs no token.

# Discovery: LIST on the prefix itself and on every folder below it; READ on the metadata of
# every secret below it (current version, deletion state). Vault appends "/" to a LIST path, so
# the glob rule also matches the prefix; the first rule says so explicitly.
path "secret/metadata/composio/auth_configs/" {
  capabilities = ["list"]
}

path "secret/metadata/composio/auth_configs/*" {
  capabilities = ["read", "list"]
}

# Rotation: the values of every secret under the prefix, any version (`--version N`).
path "secret/data/composio/auth_configs/*" {
  capabilities = ["read"]
}

# The Composio API key (ROTATOR_COMPOSIO_KEY_PATH=composio/rotator, field api_key).
path "secret/data/composio/rotator" {
  capabilities = ["read"]
}
