"""Service definitions from Consul config files (JSON or HCL), in the agent API's JSON shape.

`consul services register web.hcl` reads files the way the agent reads its config (Consul loads
them in dev mode so nothing else in the file is required); the config package owns the decoding,
so the CLI and the agent accept exactly the same spellings and reject the same mistakes.
"""

from __future__ import annotations

from typing import Any


class ServiceFileError(ValueError):
    pass


def services_from_files(paths: list[str]) -> list[dict[str, Any]]:
    from pyconsul.config.builder import build
    from pyconsul.config.errors import ConfigError
    from pyconsul.config.loader import load_config_sources

    try:
        conf = load_config_sources(list(paths), [], [])
        runtime = build(conf, dev=True, where=", ".join(paths))
    except ConfigError as exc:
        raise ServiceFileError(str(exc)) from None
    except OSError as exc:
        raise ServiceFileError(f"Error reading {exc.filename}: {exc.strerror or exc}") from None
    return [dict(svc) for svc in runtime.services]
