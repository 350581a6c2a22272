# syntax=docker/dockerfile:1
# One image for the worker, beat and the CLI (ENTRYPOINT rotator, default command: worker):
#   docker build -t rotator:0.2.0 .
#   docker run --rm rotator:0.2.0 --help
# The runtime dependencies are exactly deploy/requirements.lock (pins + sha256 hashes). Run it
# with deploy/compose/ (local stack) or deploy/kubernetes/ (kustomize base and example overlay).

# The base of both stages: python:3.11-slim, unless --build-arg PYTHON_IMAGE=... names another
# with `python` (3.11 or newer) and its venv module (tests/test_image.py builds a Debian one).
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a venv with the locked dependencies and the rotator wheel ---------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/rotator

# A package index behind a TLS-intercepting proxy: pass its CA as a build secret,
#   docker build --secret id=pipcert,src=/path/to/ca-bundle.pem .
# pip reads it from the secret mount during these two RUNs only; it is never a file in a layer.
# Without the secret, pip uses its own CA bundle.

# Dependencies first (their own layer, rebuilt only when the lock changes). --require-hashes also
# refuses any dependency that the lock does not pin; --only-binary: no compiler is ever needed.
COPY deploy/requirements.lock /tmp/requirements.lock
RUN --mount=type=secret,id=pipcert \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && /opt/rotator/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock

# The project itself, as a wheel, without dependencies (all of them come from the lock above),
# built with the locked setuptools (deploy/build.lock; no build isolation, so nothing unpinned is
# fetched); pip check fails the build if the lock does not satisfy rotator's requirements.
COPY deploy/build.lock /tmp/build.lock
RUN --mount=type=secret,id=pipcert \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && /opt/rotator/bin/pip install --require-hashes --only-binary=:all: -r /tmp/build.lock
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY rotator ./rotator
RUN --mount=type=secret,id=pipcert \
    if [ -s /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && /opt/rotator/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
    && /opt/rotator/bin/pip install --no-deps --no-index /tmp/wheels/rotator-*.whl \
    && /opt/rotator/bin/pip check \
    && /opt/rotator/bin/pip uninstall --yes pip setuptools

# --- final: the venv on a clean base (python:3.11-slim), no build tools, a non-root user ------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="rotator" \
      org.opencontainers.image.description="Keeps Composio auth config credentials in step with Vault KV v2" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/rotator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROTATOR_LOG_FORMAT=json \
    XDG_STATE_HOME=/var/lib/rotator

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 rotator \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
       --home-dir /var/lib/rotator --create-home --shell /usr/sbin/nologin rotator

# Root-owned and read-only for the rotator user.
COPY --from=builder /opt/rotator /opt/rotator

USER 10001:10001
WORKDIR /var/lib/rotator

# `rotator health` exits 0 when Redis and Vault are reachable.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["rotator", "health"]

ENTRYPOINT ["rotator"]
CMD ["worker"]
