"""Pure unit tests: no server, no network; they run in seconds (`pytest tests/unit`)."""
