"""A faithful HTTP emulator of Composio's auth-config API, for tests, the demo and benchmarks.

See ``rotator.emulator.app`` for the Python API and ``rotator.emulator.admin`` for the HTTP
control endpoints; ``python -m rotator.emulator --help`` runs one in the foreground.
"""

from rotator.emulator.app import Emulator
from rotator.emulator.faults import Fault, FaultMix
from rotator.emulator.journal import JournalEntry

__all__ = ["Emulator", "Fault", "FaultMix", "JournalEntry"]
