"""rotator's benchmarks, run from the repository (never shipped): `python -m benchmarks.suite`."""
