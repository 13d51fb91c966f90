"""Go durations now live in `pyconsul.gocompat.durations`; this name stays for existing imports."""

from pyconsul.gocompat.durations import format_duration, parse_duration

__all__ = ["format_duration", "parse_duration"]
