"""The command line: `pytemplate [watch|once] [flags]`, with consul-template's flags.

Flags follow Go's flag package (`pyconsul.gocompat.flagscan`): one or two dashes, `-flag value`
or `-flag=value`, booleans also stand alone; arguments that are not flags are refused.
Without a subcommand it behaves like `consul-template` (watch, unless `-once`). Mistakes give
one line on stderr and exit status 2 (usage) or 1 (bad configuration), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyconsul.client.errors import ConfigError as ClientConfigError
from pyconsul.client.settings import ClientOverrides, consul_template_settings_from_env
from pyconsul.gocompat.flagscan import FlagScanner, FlagSyntaxError
from pyconsul.gocompat.strconv import parse_bool as go_parse_bool
from pyconsul.loop import run as run_loop
from pytemplate.client import HttpConsulClient
from pytemplate.config import (
    Config,
    ConfigError,
    ExecConfig,
    duration,
    load_files,
    parse_count,
    parse_signal,
    parse_template_flag,
    parse_wait,
    validate,
)
from pytemplate.gotmpl import TemplateError

log = logging.getLogger("pytemplate")

VERSION = "pytemplate 0.1.0 (consul-template compatible)"

# name -> kind ("str", "list" or "bool")
FLAGS: dict[str, str] = {
    "consul-addr": "str", "consul-token": "str", "consul-auth": "str",
    "consul-ssl": "bool", "consul-ssl-verify": "bool", "consul-ssl-ca-cert": "str",
    "consul-ssl-ca-path": "str", "consul-ssl-cert": "str", "consul-ssl-key": "str",
    "consul-ssl-server-name": "str", "consul-retry-backoff": "str", "consul-retry-max-backoff": "str",
    "consul-retry-attempts": "str", "consul-retry": "bool",
    "template": "list", "config": "list", "once": "bool", "dry": "bool", "wait": "str",
    "log-level": "str", "max-stale": "str", "block-query-wait": "str", "pid-file": "str",
    "exec": "str", "exec-reload-signal": "str", "exec-kill-signal": "str", "exec-kill-timeout": "str",
    "kill-signal": "str", "reload-signal": "str", "version": "bool", "help": "bool", "h": "bool",
}

USAGE = """Usage: python -m pytemplate [watch|once] [options]

  Watches Consul through blocking queries and renders templates (Go .ctmpl or Jinja2)
  to files, running each template's command when its output changes.

Options (one or two dashes, "-flag value" or "-flag=value"):
  -consul-addr=<addr>        Consul HTTP address (default 127.0.0.1:8500, or $CONSUL_HTTP_ADDR)
  -consul-token=<token>      ACL token (or $CONSUL_HTTP_TOKEN)
  -consul-auth=<user[:pass]> HTTP basic auth to Consul
  -consul-ssl, -consul-ssl-verify, -consul-ssl-ca-cert, -consul-ssl-ca-path,
  -consul-ssl-cert, -consul-ssl-key, -consul-ssl-server-name   TLS to Consul
  -template="in:out[:command]"   repeatable; the command may contain spaces and colons
  -config=<path>             HCL or JSON file, or a directory of them (repeatable)
  -once                      render every template once, run commands, exit
  -dry                       print rendered templates to stdout instead of writing them
  -wait=min[:max]            quiescence before rendering (e.g. 2s:10s)
  -max-stale=<duration>      allow stale reads up to this old (default 2s)
  -consul-retry-attempts=<n> give up after n failed requests in a row (default 12; 0 = never)
  -consul-retry-backoff, -consul-retry-max-backoff   retry spacing (default 250ms doubling to 1m)
  -log-level=<level>         trace, debug, info, warn, err
  -pid-file=<path>           write the process id here
  -exec=<command>            supervise this child; signal or restart it on changes
  -exec-reload-signal, -exec-kill-signal, -exec-kill-timeout
  -kill-signal=<sig>         signal that stops pytemplate (default SIGINT)
  -reload-signal=<sig>       signal that reloads the configuration (default SIGHUP)
"""


class UsageError(ValueError):
    pass


@dataclass
class Options:
    mode: str = "watch"
    values: dict[str, str | bool] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)


def parse_args(argv: Sequence[str]) -> Options:
    args = list(argv)
    opts = Options()
    if args and args[0] in ("watch", "once", "help", "version"):
        opts.mode = args.pop(0)
    scanner = FlagScanner(args, lambda name: None if name not in FLAGS else FLAGS[name] == "bool")
    try:
        for name, value in scanner:
            kind = FLAGS[name]
            if kind == "bool":
                opts.values[name] = True if value is None else _flag_bool(name, value)
            elif kind == "list":
                assert value is not None
                opts.lists.setdefault(name, []).append(value)
            else:
                assert value is not None
                opts.values[name] = value
    except FlagSyntaxError as exc:
        raise UsageError(str(exc)) from None
    if scanner.rest:
        raise UsageError(f"unexpected argument {scanner.rest[0]!r} (all options are flags; see -help)")
    return opts


def _flag_bool(name: str, value: str) -> bool:
    """Go's strconv.ParseBool, as consul-template's flags read booleans."""
    try:
        return go_parse_bool(value)
    except ValueError:
        raise UsageError(f"-{name}: expected true or false, got {value!r}") from None


def build_config(opts: Options, environ: dict[str, str] | None = None) -> Config:
    cfg = Config()
    # consul-template's defaults come from Consul's environment variables (read by the core).
    try:
        cfg.consul.client = consul_template_settings_from_env(environ)
    except ClientConfigError as exc:
        raise ConfigError(f"CONSUL_HTTP_ADDR: {exc}") from None
    cfg.config_paths = opts.lists.get("config", [])
    load_files(cfg, cfg.config_paths)
    v = opts.values

    def given(name: str) -> str | None:
        return str(v[name]) if name in v else None

    verify = v.get("consul-ssl-verify")
    cfg.consul.layer(ClientOverrides(
        address=given("consul-addr"), token=given("consul-token"), http_auth=given("consul-auth"),
        use_tls=bool(v["consul-ssl"]) if "consul-ssl" in v else None,
        insecure_skip_verify=None if verify is None else not verify,
        ca_file=given("consul-ssl-ca-cert"), ca_path=given("consul-ssl-ca-path"),
        cert_file=given("consul-ssl-cert"), key_file=given("consul-ssl-key"),
        tls_server_name=given("consul-ssl-server-name"),
    ), "-consul-addr")  # the only value a layer can refuse
    if "consul-retry-backoff" in v:
        cfg.consul.retry_base = duration(v["consul-retry-backoff"], "-consul-retry-backoff")
    if "consul-retry-max-backoff" in v:
        cfg.consul.retry_max = duration(v["consul-retry-max-backoff"], "-consul-retry-max-backoff")
    if "consul-retry-attempts" in v:
        cfg.consul.retry_attempts = parse_count(v["consul-retry-attempts"], "-consul-retry-attempts")
    if v.get("consul-retry") is False:
        cfg.consul.retry_attempts = -1
    for t in opts.lists.get("template", []):
        cfg.templates.append(parse_template_flag(t))
    cfg.once = bool(v.get("once", False)) or opts.mode == "once"
    cfg.dry = bool(v.get("dry", False))
    if "wait" in v:
        cfg.wait = parse_wait(str(v["wait"]), "-wait")
    if "log-level" in v:
        cfg.log_level = str(v["log-level"])
    if "max-stale" in v:
        cfg.max_stale = duration(v["max-stale"], "-max-stale")
    if "block-query-wait" in v:
        cfg.block_query_wait = duration(v["block-query-wait"], "-block-query-wait")
    if "pid-file" in v:
        cfg.pid_file = str(v["pid-file"])
    if "exec" in v:
        cfg.exec = cfg.exec or ExecConfig()
        cfg.exec.command = str(v["exec"])
    if cfg.exec is not None:
        if "exec-reload-signal" in v:
            cfg.exec.reload_signal = parse_signal(v["exec-reload-signal"], "-exec-reload-signal")
        if "exec-kill-signal" in v:
            cfg.exec.kill_signal = parse_signal(v["exec-kill-signal"], "-exec-kill-signal") or cfg.exec.kill_signal
        if "exec-kill-timeout" in v:
            cfg.exec.kill_timeout = duration(v["exec-kill-timeout"], "-exec-kill-timeout")
    if "kill-signal" in v:
        cfg.kill_signal = parse_signal(v["kill-signal"], "-kill-signal") or cfg.kill_signal
    if "reload-signal" in v:
        cfg.reload_signal = parse_signal(v["reload-signal"], "-reload-signal") or cfg.reload_signal
    validate(cfg)
    return cfg


LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "err": logging.ERROR, "error": logging.ERROR}


def setup_logging(level: str) -> None:
    lvl = LEVELS.get(level.lower())
    if lvl is None:
        raise ConfigError(f"-log-level: unknown level {level!r} (trace, debug, info, warn, err)")
    logging.basicConfig(stream=sys.stderr, level=lvl, force=True,
                        format="%(asctime)s [%(levelname)s] %(message)s")


async def serve(opts: Options, cfg: Config) -> int:
    from pytemplate.runner import Runner

    client = HttpConsulClient(cfg.consul.client)
    loop = asyncio.get_running_loop()
    state = {"reload": False, "runner": None}

    def on_stop() -> None:
        runner = state["runner"]
        if runner is not None:
            log.info("(cli) received stop signal; shutting down")
            runner.stop()  # type: ignore[attr-defined]

    def on_reload() -> None:
        runner = state["runner"]
        if runner is not None:
            log.info("(cli) received reload signal; reloading configuration")
            state["reload"] = True
            runner.stop()  # type: ignore[attr-defined]

    stop_signals = {signal.SIGINT, signal.SIGTERM, cfg.kill_signal}
    for sig in stop_signals:
        loop.add_signal_handler(sig, on_stop)
    loop.add_signal_handler(cfg.reload_signal, on_reload)
    _write_pid(cfg.pid_file)
    try:
        while True:
            runner = Runner(cfg, client)
            state["runner"] = runner
            code = await runner.run()
            if not state["reload"]:
                return code
            state["reload"] = False
            try:
                new_cfg = build_config(opts)
                Runner(new_cfg, client)  # parse every template before switching
                cfg = new_cfg
                if cfg.log_level:
                    setup_logging(cfg.log_level)
            except (ConfigError, TemplateError) as exc:
                log.error("(cli) reload failed, keeping the old configuration: %s", exc)
    finally:
        await client.close()
        if cfg.pid_file:
            with contextlib.suppress(OSError):
                os.unlink(cfg.pid_file)


def _write_pid(path: str) -> None:
    if path:
        try:
            Path(path).write_text(f"{os.getpid()}\n")
        except OSError as exc:
            raise ConfigError(f"-pid-file {path}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"pytemplate: {exc}", file=sys.stderr)
        return 2
    if opts.mode == "help" or opts.values.get("help") or opts.values.get("h"):
        print(USAGE)
        return 0
    if opts.mode == "version" or opts.values.get("version"):
        print(VERSION)
        return 0
    try:
        cfg = build_config(opts)
        setup_logging(cfg.log_level)
        from pytemplate.runner import Runner

        Runner(cfg, HttpConsulClient(cfg.consul.client))  # parse templates now: fail before watching
    except (ConfigError, TemplateError) as exc:
        print(f"pytemplate: {exc}", file=sys.stderr)
        return 1
    try:
        return run_loop(serve(opts, cfg))
    except ConfigError as exc:
        print(f"pytemplate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
