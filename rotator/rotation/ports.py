"""The seams the service needs from Vault and Composio, as Protocols (tests may pass fakes)."""

from __future__ import annotations

from typing import Protocol

from rotator.core.models import Payload, SecretVersion, VersionMeta

__all__ = ["ComposioPort", "PatchResultLike", "VaultPort"]


class VaultPort(Protocol):
    def read_secret(
        self, mount: str, path: str, *, version: int | None = None
    ) -> SecretVersion: ...
    def current_version(self, mount: str, path: str) -> int: ...
    def version_meta(self, mount: str, path: str) -> VersionMeta: ...
    def list_secrets(self, mount: str, prefix: str) -> list[str]: ...


class PatchResultLike(Protocol):
    @property
    def request_id(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def status(self) -> int: ...


class ComposioPort(Protocol):
    def update_auth_config(self, nanoid: str, payload: Payload) -> PatchResultLike: ...
