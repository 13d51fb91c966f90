"""Agent configuration: flags and config files merged into one RuntimeConfig."""

from pyconsul.config.runtime import RuntimeConfig

__all__ = ["RuntimeConfig"]
