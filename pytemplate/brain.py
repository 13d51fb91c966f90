"""The brain: the latest data of every dependency, keyed by the dependency's identity."""

from __future__ import annotations

from typing import Any

from pytemplate.dependencies import Dependency


class Brain:
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def remember(self, dep: Dependency, value: Any) -> bool:
        """Store `value`; returns whether it differs from what was known."""
        changed = dep.key not in self._data or self._data[dep.key] != value
        self._data[dep.key] = value
        return changed

    def recall(self, dep: Dependency) -> tuple[Any, bool]:
        if dep.key in self._data:
            return self._data[dep.key], True
        return None, False

    def forget(self, key: str) -> None:
        self._data.pop(key, None)

    def __contains__(self, dep: Dependency) -> bool:
        return dep.key in self._data

    def __len__(self) -> int:
        return len(self._data)
