"""The py-consul methods not tested against our agent yet, each naming the open issue that owns its
endpoint. `test_methods.py` reads this table; nothing else may be skipped, and a method that
comes off this list must get a test (the coverage test fails otherwise)."""

from __future__ import annotations

SKIPS: dict[str, tuple[int, str]] = {}
