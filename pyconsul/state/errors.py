"""Errors a command can fail with. Deterministic: every replica fails the same way."""


class StateError(Exception):
    """A write was refused by the state store (the command is a no-op on every replica)."""
