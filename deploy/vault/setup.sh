#!/bin/sh
# Set up Vault (or OpenBao) for rotator: the read-only policy, an AppRole role and, when
# KUBERNETES_HOST is set, a Kubernetes auth role. Safe to run again: every step is an upsert,
# auth methods are enabled only when missing, and the role_id does not change.
#
#   VAULT_ADDR=https://vault.example:8200 VAULT_TOKEN=... deploy/vault/setup.sh [--secret-id]
#
# stdout gets only KEY=value lines for rotator's environment: VAULT_ROLE_ID always, and
# VAULT_SECRET_ID when --secret-id is given (a new secret id at every such run; earlier ones
# stay valid until their TTL). Progress and errors go to stderr, never a secret id.
#
# Environment (all optional except VAULT_ADDR and VAULT_TOKEN):
#   VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT   the admin's Vault connection
#   VAULT_CLI                        CLI to use (default: bao, else vault, from PATH)
#   ROTATOR_POLICY_FILE              policy to write (default: rotator-policy.hcl beside this)
#   ROTATOR_POLICY_NAME              default: rotator
#   VAULT_APPROLE_MOUNT              AppRole mount path (default: approle)
#   ROTATOR_SECRET_ID_TTL            lifetime of a secret id (default: 720h; 0 = never expires)
#   VAULT_K8S_MOUNT                  Kubernetes auth mount path (default: kubernetes)
#   KUBERNETES_HOST                  Kubernetes API URL; unset = skip Kubernetes auth
#   KUBERNETES_CA_CERT_FILE          PEM CA bundle of the Kubernetes API (optional)
#   KUBERNETES_TOKEN_REVIEWER_JWT_FILE  JWT allowed to call TokenReview (optional: without it
#                                    Vault uses its own pod's token, or the logging-in JWT)
#   ROTATOR_K8S_NAMESPACE            namespace of rotator's service account (default: rotator)
#   ROTATOR_K8S_SERVICE_ACCOUNT      rotator's service account (default: rotator)
#   ROTATOR_K8S_AUDIENCE             audience the service account JWT must carry (optional)
set -eu

ROLE=rotator
TOKEN_TTL=1h
TOKEN_MAX_TTL=24h

say() { printf 'setup.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

print_secret_id=no
for arg in "$@"; do
    case "$arg" in
        --secret-id) print_secret_id=yes ;;
        -h | --help) sed -n '2,/^set -eu$/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
policy_file=${ROTATOR_POLICY_FILE:-$here/rotator-policy.hcl}
policy_name=${ROTATOR_POLICY_NAME:-rotator}
approle_mount=${VAULT_APPROLE_MOUNT:-approle}
secret_id_ttl=${ROTATOR_SECRET_ID_TTL:-720h}
k8s_mount=${VAULT_K8S_MOUNT:-kubernetes}
k8s_namespace=${ROTATOR_K8S_NAMESPACE:-rotator}
k8s_service_account=${ROTATOR_K8S_SERVICE_ACCOUNT:-rotator}

[ -n "${VAULT_ADDR:-}" ] || die "VAULT_ADDR is not set"
[ -n "${VAULT_TOKEN:-}" ] || die "VAULT_TOKEN is not set (a token allowed to write policies and auth methods)"
[ -r "$policy_file" ] || die "cannot read the policy file $policy_file"

if [ -n "${VAULT_CLI:-}" ]; then
    cli=$VAULT_CLI
elif command -v bao >/dev/null 2>&1; then
    cli=bao
elif command -v vault >/dev/null 2>&1; then
    cli=vault
else
    die "neither bao nor vault is on PATH (or set VAULT_CLI)"
fi
command -v "$cli" >/dev/null 2>&1 || die "$cli not found"
# Both CLIs read VAULT_ADDR/VAULT_TOKEN; BAO_* win over them in bao, so keep them in step.
if [ "$(basename "$cli")" = bao ]; then
    export BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN"
    [ -z "${VAULT_NAMESPACE:-}" ] || export BAO_NAMESPACE="$VAULT_NAMESPACE"
    [ -z "${VAULT_CACERT:-}" ] || export BAO_CACERT="$VAULT_CACERT"
fi

# Enable auth method $1 at path $2 unless it is there; fail if another type holds the path.
ensure_auth() {
    methods=$("$cli" auth list) || die "cannot list auth methods at $VAULT_ADDR"
    found=$(printf '%s\n' "$methods" | awk -v p="$2/" '$1 == p { print $2 }')
    if [ -z "$found" ]; then
        "$cli" auth enable -path="$2" "$1" >/dev/null
        say "enabled $1 auth at $2/"
    elif [ "$found" = "$1" ]; then
        say "$1 auth already enabled at $2/"
    else
        die "auth path $2/ holds a $found method, not $1"
    fi
}

# -- the policy ------------------------------------------------------------------------------
"$cli" policy write "$policy_name" "$policy_file" >/dev/null
say "wrote policy $policy_name from $policy_file"

# -- AppRole ---------------------------------------------------------------------------------
# Tokens are service tokens (renewable: rotator renews them, then logs in again before the
# max TTL); a secret id is good for any number of logins, since rotator logs in again after a
# token expires or is revoked.
ensure_auth approle "$approle_mount"
"$cli" write "auth/$approle_mount/role/$ROLE" \
    token_policies="$policy_name" \
    token_type=service \
    token_ttl="$TOKEN_TTL" \
    token_max_ttl="$TOKEN_MAX_TTL" \
    token_num_uses=0 \
    token_no_default_policy=false \
    bind_secret_id=true \
    secret_id_num_uses=0 \
    secret_id_ttl="$secret_id_ttl" >/dev/null
say "wrote AppRole role $ROLE at auth/$approle_mount (token_ttl $TOKEN_TTL, token_max_ttl $TOKEN_MAX_TTL, secret_id_ttl $secret_id_ttl)"

role_id=$("$cli" read -field=role_id "auth/$approle_mount/role/$ROLE/role-id")
[ -n "$role_id" ] || die "no role_id came back for auth/$approle_mount/role/$ROLE"

# -- Kubernetes ------------------------------------------------------------------------------
if [ -z "${KUBERNETES_HOST:-}" ]; then
    say "KUBERNETES_HOST is not set: skipping Kubernetes auth (set it, and KUBERNETES_CA_CERT_FILE, to set it up)"
else
    ensure_auth kubernetes "$k8s_mount"
    set -- kubernetes_host="$KUBERNETES_HOST"
    if [ -n "${KUBERNETES_CA_CERT_FILE:-}" ]; then
        [ -r "$KUBERNETES_CA_CERT_FILE" ] || die "cannot read KUBERNETES_CA_CERT_FILE=$KUBERNETES_CA_CERT_FILE"
        set -- "$@" kubernetes_ca_cert="@$KUBERNETES_CA_CERT_FILE"
    fi
    if [ -n "${KUBERNETES_TOKEN_REVIEWER_JWT_FILE:-}" ]; then
        [ -r "$KUBERNETES_TOKEN_REVIEWER_JWT_FILE" ] ||
            die "cannot read KUBERNETES_TOKEN_REVIEWER_JWT_FILE=$KUBERNETES_TOKEN_REVIEWER_JWT_FILE"
        set -- "$@" token_reviewer_jwt="@$KUBERNETES_TOKEN_REVIEWER_JWT_FILE"
    fi
    "$cli" write "auth/$k8s_mount/config" "$@" >/dev/null
    say "configured Kubernetes auth at auth/$k8s_mount for $KUBERNETES_HOST"
    set -- bound_service_account_names="$k8s_service_account" \
        bound_service_account_namespaces="$k8s_namespace" \
        token_policies="$policy_name" \
        token_type=service \
        token_ttl="$TOKEN_TTL" \
        token_max_ttl="$TOKEN_MAX_TTL" \
        token_no_default_policy=false
    [ -z "${ROTATOR_K8S_AUDIENCE:-}" ] || set -- "$@" audience="$ROTATOR_K8S_AUDIENCE"
    "$cli" write "auth/$k8s_mount/role/$ROLE" "$@" >/dev/null
    say "wrote Kubernetes role $ROLE at auth/$k8s_mount for service account $k8s_namespace/$k8s_service_account"
fi

# -- output ----------------------------------------------------------------------------------
printf 'VAULT_ROLE_ID=%s\n' "$role_id"
if [ "$print_secret_id" = yes ]; then
    secret_id=$("$cli" write -f -field=secret_id "auth/$approle_mount/role/$ROLE/secret-id")
    [ -n "$secret_id" ] || die "no secret_id came back for auth/$approle_mount/role/$ROLE"
    printf 'VAULT_SECRET_ID=%s\n' "$secret_id"
fi
