"""``python -m rotator`` is the ``rotator`` command."""

from rotator.cli import main

main()
