"""Reading config sources: files, directories and `-hcl` snippets, each into a canonical dict.

A directory contributes its `*.json` and `*.hcl` files (not subdirectories) in lexical order; other
files are skipped, as Consul does, unless `-config-format` names a format for them. Each source is
decoded against the key schema on its own, so an error names the file it came from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from pyconsul.config.errors import ConfigError, multi_error
from pyconsul.config.keys import AGENT
from pyconsul.config.spec import decode


@dataclass(frozen=True)
class Source:
    name: str  # the file path, or "flags-<n>.hcl" for a -hcl snippet
    fmt: str  # "json" | "hcl"
    data: str


def _format_of(path: str, config_format: str) -> str | None:
    if path.endswith(".json"):
        return "json"
    if path.endswith(".hcl"):
        return "hcl"
    return config_format or None


def _read(path: str, fmt: str) -> Source:
    try:
        with open(path, encoding="utf-8") as f:
            return Source(path, fmt, f.read())
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Error reading {path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"Error reading {path}: {exc.strerror or exc}") from None


def file_source(path: str, config_format: str = "") -> Source:
    if not os.path.exists(path):
        raise ConfigError(f"Error reading {path}: open {path}: no such file or directory")
    if os.path.isdir(path):
        raise ConfigError(f"Error reading {path}: is a directory (use -config-dir)")
    fmt = _format_of(path, config_format)
    if fmt is None:
        raise ConfigError(
            f"Error reading {path}: No format specified for file; use a .json or .hcl extension or -config-format"
        )
    return _read(path, fmt)


def dir_sources(path: str, config_format: str = "") -> list[Source]:
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError:
        raise ConfigError(f"Error reading {path}: open {path}: no such file or directory") from None
    except NotADirectoryError:
        raise ConfigError(f"Error reading {path}: not a directory") from None
    except OSError as exc:
        raise ConfigError(f"Error reading {path}: {exc.strerror or exc}") from None
    out = []
    for name in names:
        full = os.path.join(path, name)
        if os.path.isdir(full):
            continue
        fmt = _format_of(name, config_format)
        if fmt is None:
            continue
        out.append(_read(full, fmt))
    return out


def path_sources(path: str, config_format: str = "") -> list[Source]:
    """A path given to `validate`: a directory's files or the file itself."""
    if os.path.isdir(path):
        return dir_sources(path, config_format)
    return [file_source(path, config_format)]


def parse_raw(src: Source) -> dict[str, Any]:
    """The file's text as a plain dict (HCL blocks still as lists); ConfigError on bad syntax."""
    if src.fmt == "json":
        try:
            raw = json.loads(src.data) if src.data.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"Error parsing {src.name}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
    else:
        raw = _parse_hcl(src)
    if not isinstance(raw, dict):
        raise ConfigError(f"Error parsing {src.name}: top level must be an object, got {type(raw).__name__}")
    return raw


def _parse_hcl(src: Source) -> Any:
    import hcl2
    from hcl2.utils import SerializationOptions

    opts = SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False
    )
    try:
        return hcl2.loads(src.data + "\n", serialization_options=opts)
    except Exception as exc:  # lark raises many kinds; all mean "not valid HCL"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"Error parsing {src.name}: {first}") from None


def decode_source(src: Source) -> dict[str, Any]:
    """Parse and type-check one source into a canonical config dict.

    A single `service`/`check` becomes one element of `services`/`checks` here, per file, so a
    later file's `service` adds to the earlier one's instead of replacing it (as Consul does).
    """
    raw = _plural_blocks(parse_raw(src))
    errors: list[str] = []
    canonical = decode(raw, AGENT, "", errors)
    if errors:
        raise ConfigError(f"Error parsing {src.name}: {multi_error(errors)}")
    for single, plural in (("service", "services"), ("check", "checks")):
        if single in canonical:
            one = canonical.pop(single)
            items = one if isinstance(one, list) else [one]
            canonical[plural] = items + list(canonical.get(plural) or [])
    return canonical


def _plural_blocks(raw: dict[str, Any]) -> dict[str, Any]:
    """Several HCL `service { }` (or `check { }`) blocks in one file mean several definitions."""
    out = dict(raw)
    for key, value in raw.items():
        plural = {"service": "services", "check": "checks"}.get(key.lower())
        existing = out.get(plural)
        # A mistyped plural is left for decode() to report with Consul's error text.
        if plural and isinstance(value, list) and len(value) > 1 and isinstance(existing, list | None):
            del out[key]
            out[plural] = value + list(existing or [])
    return out
