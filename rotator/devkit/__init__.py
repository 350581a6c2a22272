"""Tooling that ships for `rotator demo` and the compose stack: the Composio emulator, the local
sandbox (real Redis and OpenBao processes) and the demo. Production code never imports it
(import-linter holds this); the CLI reaches it only lazily, behind `rotator demo`.
"""
