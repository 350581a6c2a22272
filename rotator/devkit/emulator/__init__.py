"""A faithful HTTP emulator of Composio's auth-config API, for tests, the demo and benchmarks.

See ``rotator.devkit.emulator.app`` for the Python API and ``.admin`` for the HTTP control
endpoints; ``python -m rotator.devkit.emulator --help`` runs one in the foreground.
"""

from rotator.devkit.emulator.app import Emulator
from rotator.devkit.emulator.faults import Fault, FaultMix
from rotator.devkit.emulator.journal import JournalEntry

__all__ = ["Emulator", "Fault", "FaultMix", "JournalEntry"]
