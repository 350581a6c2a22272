"""Tests against real servers started on loopback: Redis, OpenBao, the Composio emulator,
worker and beat subprocesses, the image and the wheel."""
