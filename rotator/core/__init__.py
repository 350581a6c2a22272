"""The pure core: the vocabulary (models, states, errors, triggers, a call's deadline) and the
decisions (the plan for an auth config, the retry decision, batching, the breaker's rule). No
I/O: it imports no other rotator package and no I/O library (import-linter holds both).
"""
