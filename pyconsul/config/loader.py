"""Loading the agent's configuration: the entry points the agent and the CLI call.

Precedence, lowest first (as Consul): defaults (or -dev's) < config files and directories in
command-line order (a directory's files in lexical order) < command-line flags < `-hcl` snippets.
Layers merge by Consul's rules (pyconsul.config.merge). The merged config is then reviewed
against the support table (pyconsul.config.support): recognised but unimplemented keys become
warnings naming their file, unenforced security keys a ConfigError unless -dev-allow-unenforced
names them.
"""

from __future__ import annotations

from typing import Any

from pyconsul.config.builder import build
from pyconsul.config.errors import ConfigError, multi_error
from pyconsul.config.flags import parse_agent_flags
from pyconsul.config.merge import merge_all
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.config.sources import Source, decode_source, dir_sources, file_source, path_sources
from pyconsul.config.support import OVERRIDE_FLAG, SECURITY_RULES, check_allowed_names, review

# A decoded source and the name a warning gives it (its file, "command-line flags", "flags-0.hcl").
Layer = tuple[str, dict[str, Any]]


def load_config_sources(
    files: list[str], dirs: list[str], hcl: list[str], config_format: str = ""
) -> dict[str, Any]:
    """Files, then directories, then -hcl snippets merged into one canonical config dict.

    Raises ConfigError naming the file and key on any problem.
    """
    paths = [("file", f) for f in files] + [("dir", d) for d in dirs]
    return merge_all([layer for _, layer in _layers(paths, hcl, config_format)])


def _layers(paths: list[tuple[str, str]], hcl: list[str], config_format: str) -> list[Layer]:
    sources: list[Source] = []
    for kind, path in paths:
        if kind == "file":
            sources.append(file_source(path, config_format))
        else:
            sources.extend(dir_sources(path, config_format))
    sources += [Source(f"flags-{i}.hcl", "hcl", text) for i, text in enumerate(hcl)]
    return [(s.name, decode_source(s)) for s in sources]


def load_agent_config(argv: list[str]) -> RuntimeConfig:
    """`consul agent` flags (without the word `agent`) -> the agent's RuntimeConfig.

    Raises ConfigError (Go flag wording for flag problems, Consul's for config problems).
    """
    flags = parse_agent_flags(argv)
    file_layers = _layers(flags.config_paths, [], flags.config_format)
    flag_layer = ("command-line flags", _flag_layer(flags.values))
    hcl_layers = _layers([], flags.hcl, flags.config_format)
    layers = [*file_layers, flag_layer, *hcl_layers]
    conf = merge_all([layer for _, layer in layers])
    rc = build(conf, dev=flags.dev, where=_where(flags.config_paths))
    _apply_review(rc, layers, flags.dev_allow_unenforced)
    rc.config_paths = list(flags.config_paths)
    rc.config_files = [p for k, p in flags.config_paths if k == "file"]
    rc.config_dirs = [p for k, p in flags.config_paths if k == "dir"]
    rc.config_format = flags.config_format
    rc.hcl = list(flags.hcl)
    rc.raft_recover_truncate = flags.raft_recover_truncate
    rc.argv = list(argv)
    return rc


def _flag_layer(values: dict[str, Any]) -> dict[str, Any]:
    # Flag values are already typed; run them through the schema so a wrong key is a bug caught here.
    import json

    return decode_source(Source("flags", "json", json.dumps(values)))


def _where(paths: list[tuple[str, str]]) -> str:
    return ", ".join(p for _, p in paths) or "config"


def reload_config(old: RuntimeConfig) -> RuntimeConfig:
    """Read the same flags and files again (SIGHUP, `consul reload`, PUT /v1/agent/reload).

    The node ID stays the one the agent runs with unless the config names one. Raises ConfigError
    and leaves the caller's config untouched when the files became invalid.
    """
    new = load_agent_config(list(old.argv))
    if not _names_node_id(old):
        new.node_id = old.node_id
    return new


def _names_node_id(rc: RuntimeConfig) -> bool:
    try:
        flags = parse_agent_flags(rc.argv)
        layers = _layers(flags.config_paths, flags.hcl, flags.config_format)
        conf = merge_all([*(layer for _, layer in layers), flags.values])
    except ConfigError:
        return False
    return bool(conf.get("node_id"))


def validate_paths(
    paths: list[str], config_format: str = "", dev_allow_unenforced: list[str] | None = None
) -> RuntimeConfig:
    """What `consul validate` checks: the paths' files merged and built (not -dev, no flags),
    refused as the agent would refuse them; the warnings are in `config_warnings`."""
    sources: list[Source] = []
    for p in paths:
        sources.extend(path_sources(p, config_format))
    layers = [(s.name, decode_source(s)) for s in sources]
    rc = build(merge_all([layer for _, layer in layers]), dev=False, where=", ".join(paths))
    _apply_review(rc, layers, dev_allow_unenforced or [])
    return rc


def _apply_review(rc: RuntimeConfig, layers: list[Layer], allowed: list[str]) -> None:
    """Record the support table's warnings on `rc`; ConfigError for unenforced security keys."""
    unknown = check_allowed_names(allowed)
    if unknown:
        raise ConfigError(
            f"{OVERRIDE_FLAG}: {', '.join(map(repr, unknown))} is not a security key; one of: "
            + ", ".join(sorted(SECURITY_RULES)))
    found = review(rc, layers, allowed)
    if found.refusals:
        raise ConfigError(found.refusals[0] if len(found.refusals) == 1 else multi_error(found.refusals))
    rc.config_warnings = [*rc.tls_settings.warnings, *found.warnings]
    rc.dev_allow_unenforced = list(allowed)
