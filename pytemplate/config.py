"""Configuration: consul-template's HCL/JSON file format and the `-template "in:out:cmd"` form.

Everything is validated here, so a bad value becomes one clear `ConfigError` line before any
watching starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyconsul.client.errors import ConfigError as ClientConfigError
from pyconsul.client.settings import ClientOverrides, ClientSettings
from pyconsul.gocompat.durations import parse_duration


class ConfigError(ValueError):
    pass


@dataclass
class WaitConfig:
    min: float = 0.0
    max: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.min > 0 or self.max > 0


@dataclass
class TemplateConfig:
    source: str = ""
    contents: str | None = None
    destination: str = ""
    command: str | list[str] | None = None
    command_timeout: float = 30.0
    perms: int | None = None
    backup: bool = False
    wait: WaitConfig | None = None
    error_on_missing_key: bool = False
    create_dest_dirs: bool = True
    left_delimiter: str = ""
    right_delimiter: str = ""
    engine: str | None = None

    @property
    def display_name(self) -> str:
        return self.source or f"(inline → {self.destination})"


@dataclass
class ExecConfig:
    command: str | list[str] = ""
    reload_signal: int | None = None  # None: restart the child on change (consul-template's default)
    kill_signal: int = int(signal.SIGINT)
    kill_timeout: float = 30.0


@dataclass
class ConsulSettings:
    # Address, token, auth and TLS: the shared client settings, layered environment < config
    # files < flags by `layer`.
    client: ClientSettings = field(default_factory=ClientSettings)
    retry_base: float = 0.25
    retry_max: float = 60.0
    retry_attempts: int = 12  # 0: retry forever

    @property
    def address(self) -> str:
        return self.client.address

    @property
    def token(self) -> str:
        return self.client.token

    def layer(self, overrides: ClientOverrides, what: str) -> None:
        """Lay one source's Consul settings over what came before (`what` names the source)."""
        try:
            self.client = self.client.with_overrides(overrides)
        except ClientConfigError as exc:
            raise ConfigError(f"{what}: {exc}") from None


@dataclass
class Config:
    consul: ConsulSettings = field(default_factory=ConsulSettings)
    templates: list[TemplateConfig] = field(default_factory=list)
    wait: WaitConfig | None = None
    max_stale: float = 2.0
    block_query_wait: float = 60.0
    log_level: str = "info"
    pid_file: str = ""
    once: bool = False
    dry: bool = False
    exec: ExecConfig | None = None
    kill_signal: int = int(signal.SIGINT)
    reload_signal: int = int(signal.SIGHUP)
    config_paths: list[str] = field(default_factory=list)


# --- value parsers ----------------------------------------------------------------------

def duration(value: Any, what: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # plain numbers are seconds
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def parse_wait(value: Any, what: str = "wait") -> WaitConfig:
    """`"5s"` (max = 4 × min, as consul-template) or `"5s:10s"` or `{min = .., max = ..}`."""
    if isinstance(value, dict):
        lo = duration(value.get("min", 0), f"{what}.min")
        hi = duration(value["max"], f"{what}.max") if "max" in value else lo * 4
    else:
        parts = str(value).split(":")
        if len(parts) > 2 or not parts[0]:
            raise ConfigError(f"{what}: expected min[:max], got {value!r}")
        lo = duration(parts[0], what)
        hi = duration(parts[1], what) if len(parts) == 2 else lo * 4
    if lo < 0 or hi < lo:
        raise ConfigError(f"{what}: min must be <= max (got {value!r})")
    return WaitConfig(lo, hi)


def parse_signal(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    name = str(value).strip().upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ConfigError(f"{what}: unknown signal {value!r}") from None


def parse_count(value: Any, what: str) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise ConfigError(f"{what}: expected a whole number, got {value!r}") from None
    if n < 0:
        raise ConfigError(f"{what}: must not be negative")
    return n


def parse_perms(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ConfigError(f"perms: expected an octal mode like \"0644\", got {value!r}") from None


def parse_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "on"):
        return True
    if text in ("0", "false", "f", "no", "off"):
        return False
    raise ConfigError(f"{what}: expected true or false, got {value!r}")


def parse_template_flag(text: str) -> TemplateConfig:
    """`in:out[:command]`; everything after the second colon is the command, colons included."""
    if not text:
        raise ConfigError("-template: empty value")
    parts = text.split(":", 2)
    source = parts[0]
    destination = parts[1] if len(parts) > 1 else ""
    command = parts[2] if len(parts) > 2 and parts[2].strip() else None
    if not source:
        raise ConfigError(f"-template {text!r}: missing source")
    return TemplateConfig(source=source, destination=destination, command=command)


# --- files --------------------------------------------------------------------------------

def _blocks(value: Any) -> list[dict[str, Any]]:
    """HCL gives blocks as a list of dicts; JSON may give one dict or a list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    raise ConfigError(f"expected a block, got {value!r}")


def _one(value: Any) -> dict[str, Any]:
    blocks = _blocks(value)
    merged: dict[str, Any] = {}
    for b in blocks:
        merged.update(b)
    return merged


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    else:
        import hcl2  # only HCL configs need it

        try:
            data = hcl2.loads(text)
        except Exception as exc:  # python-hcl2 raises lark errors of several types
            raise ConfigError(f"{path}: invalid HCL: {exc}") from None
        data = _strip_hcl_quotes(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be an object")
    return data


_HCL_ESCAPE = re.compile(r"\\(.)")
_HCL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _strip_hcl_quotes(v: Any) -> Any:
    # Some python-hcl2 versions keep the quotes of string values.
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return _HCL_ESCAPE.sub(lambda m: _HCL_ESCAPES.get(m.group(1), m.group(1)), v[1:-1])
    if isinstance(v, dict):
        # python-hcl2 also marks blocks with "__is_block__"-style keys.
        return {k: _strip_hcl_quotes(x) for k, x in v.items() if not k.startswith("__")}
    if isinstance(v, list):
        return [_strip_hcl_quotes(x) for x in v]
    return v


def config_files(path: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.suffix in (".hcl", ".json", ".conf") and x.is_file())
    if not p.exists():
        raise ConfigError(f"-config {path}: no such file or directory")
    return [p]


def template_from_block(b: dict[str, Any]) -> TemplateConfig:
    known = {"source", "contents", "destination", "command", "command_timeout", "perms", "backup", "wait",
             "error_on_missing_key", "create_dest_dirs", "left_delimiter", "right_delimiter", "engine"}
    unknown = sorted(set(b) - known - {"user", "group", "uid", "gid", "error_fatal", "sandbox_path",
                                       "function_denylist", "function_blacklist", "exec"})
    if unknown:
        raise ConfigError(f"template: unknown option(s): {', '.join(unknown)}")
    t = TemplateConfig(source=str(b.get("source", "") or ""), destination=str(b.get("destination", "") or ""))
    if "contents" in b:
        t.contents = str(b["contents"])
    cmd = b.get("command")
    if isinstance(cmd, list):
        t.command = [str(x) for x in cmd] if len(cmd) != 1 else str(cmd[0])
    elif cmd:
        t.command = str(cmd)
    if "command_timeout" in b:
        t.command_timeout = duration(b["command_timeout"], "command_timeout")
    if "perms" in b:
        t.perms = parse_perms(b["perms"])
    if "backup" in b:
        t.backup = parse_bool(b["backup"], "backup")
    if "wait" in b:
        t.wait = parse_wait(b["wait"] if not isinstance(b["wait"], list) else _one(b["wait"]), "template wait")
    if "error_on_missing_key" in b:
        t.error_on_missing_key = parse_bool(b["error_on_missing_key"], "error_on_missing_key")
    if "create_dest_dirs" in b:
        t.create_dest_dirs = parse_bool(b["create_dest_dirs"], "create_dest_dirs")
    t.left_delimiter = str(b.get("left_delimiter", "") or "")
    t.right_delimiter = str(b.get("right_delimiter", "") or "")
    if b.get("engine"):
        t.engine = str(b["engine"])
    return t


def apply_file(cfg: Config, data: dict[str, Any]) -> None:
    consul = _one(data.get("consul"))
    auth = _one(consul.get("auth"))
    ssl = _one(consul.get("ssl"))
    http_auth = None
    if auth.get("username") and parse_bool(auth.get("enabled", True), "auth.enabled"):
        http_auth = f"{auth['username']}:{auth.get('password', '')}"

    def text(key: str) -> str | None:
        return str(ssl[key]) if key in ssl else None

    cfg.consul.layer(ClientOverrides(
        address=str(consul["address"]) if "address" in consul else None,
        token=str(consul["token"]) if "token" in consul else None,
        http_auth=http_auth,
        # An ssl block turns TLS on unless it says enabled = false.
        use_tls=parse_bool(ssl.get("enabled", True), "ssl.enabled") if ssl else None,
        insecure_skip_verify=not parse_bool(ssl["verify"], "ssl.verify") if "verify" in ssl else None,
        ca_file=text("ca_cert"), ca_path=text("ca_path"), cert_file=text("cert"), key_file=text("key"),
        tls_server_name=text("server_name"),
    ), "consul.address")  # the only value a layer can refuse
    retry = _one(consul.get("retry"))
    if "backoff" in retry:
        cfg.consul.retry_base = duration(retry["backoff"], "retry.backoff")
    if "max_backoff" in retry:
        cfg.consul.retry_max = duration(retry["max_backoff"], "retry.max_backoff")
    if "attempts" in retry:
        cfg.consul.retry_attempts = parse_count(retry["attempts"], "retry.attempts")
    if "enabled" in retry and not parse_bool(retry["enabled"], "retry.enabled"):
        cfg.consul.retry_attempts = -1
    if "max_stale" in data:
        cfg.max_stale = duration(data["max_stale"], "max_stale")
    if "block_query_wait" in data:
        cfg.block_query_wait = duration(data["block_query_wait"], "block_query_wait")
    if "wait" in data:
        w = data["wait"]
        cfg.wait = parse_wait(_one(w) if isinstance(w, list) else w)
    if "log_level" in data:
        cfg.log_level = str(data["log_level"])
    if "pid_file" in data:
        cfg.pid_file = str(data["pid_file"])
    if "kill_signal" in data:
        cfg.kill_signal = parse_signal(data["kill_signal"], "kill_signal") or cfg.kill_signal
    if "reload_signal" in data:
        cfg.reload_signal = parse_signal(data["reload_signal"], "reload_signal") or cfg.reload_signal
    exec_block = _one(data.get("exec"))
    if exec_block:
        cfg.exec = exec_from_block(exec_block)
    for b in _blocks(data.get("template")):
        cfg.templates.append(template_from_block(b))


def exec_from_block(b: dict[str, Any]) -> ExecConfig:
    cmd = b.get("command", "")
    e = ExecConfig(command=[str(x) for x in cmd] if isinstance(cmd, list) else str(cmd))
    e.reload_signal = parse_signal(b.get("reload_signal"), "exec.reload_signal")
    e.kill_signal = parse_signal(b.get("kill_signal"), "exec.kill_signal") or e.kill_signal
    if "kill_timeout" in b:
        e.kill_timeout = duration(b["kill_timeout"], "exec.kill_timeout")
    return e


def load_files(cfg: Config, paths: list[str]) -> None:
    for path in paths:
        for f in config_files(path):
            apply_file(cfg, read_config_file(f))


def validate(cfg: Config) -> None:
    if not cfg.templates:
        raise ConfigError("no templates given (use -template \"in:out[:command]\" or a template block)")
    for t in cfg.templates:
        if not t.source and t.contents is None:
            raise ConfigError("template: needs a source or contents")
        if t.source and t.contents is not None:
            raise ConfigError(f"template {t.source}: source and contents are mutually exclusive")
        if not t.destination and not cfg.dry:
            raise ConfigError(f"template {t.display_name}: missing destination")
        if t.source and not os.path.isfile(t.source):
            raise ConfigError(f"template {t.source}: no such file")
        if t.engine not in (None, "go", "jinja"):
            raise ConfigError(f"template {t.display_name}: engine must be \"go\" or \"jinja\"")
    if cfg.exec is not None and not cfg.exec.command:
        raise ConfigError("exec: missing command")
