"""Template errors that always name the file, line and column."""

from __future__ import annotations


class TemplateError(Exception):
    """A parse or execution error at `name:line:col`."""

    def __init__(self, name: str, line: int, col: int, message: str) -> None:
        self.name = name
        self.line = line
        self.col = col
        self.message = message
        super().__init__(f"{name}:{line}:{col}: {message}")


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1
