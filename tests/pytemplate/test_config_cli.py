"""consul-template's command line and config files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytemplate.command import Options, UsageError, build_config, parse_args
from pytemplate.config import ConfigError, parse_template_flag, parse_wait
from tests.support.ports import free_port


def test_template_flag_keeps_spaces_and_colons_in_the_command() -> None:
    t = parse_template_flag("/opt/consul/nginx.ctmpl:/usr/local/nginx/conf/vhost/byyb.conf:"
                            "/usr/local/nginx/sbin/nginx -s reload")
    assert t.source == "/opt/consul/nginx.ctmpl"
    assert t.destination == "/usr/local/nginx/conf/vhost/byyb.conf"
    assert t.command == "/usr/local/nginx/sbin/nginx -s reload"
    t = parse_template_flag("in.ctmpl:out.conf:sh -c 'echo a:b:c' && curl http://127.0.0.1:80/")
    assert t.command == "sh -c 'echo a:b:c' && curl http://127.0.0.1:80/"
    assert parse_template_flag("in.ctmpl:out").command is None


@given(st.text(alphabet="abc/._-", min_size=1), st.text(alphabet="abc/._-", min_size=1),
       st.text(alphabet="abc :/-'\"", min_size=1).filter(lambda s: s.strip()))
def test_template_flag_round_trips(src: str, dest: str, cmd: str) -> None:
    t = parse_template_flag(f"{src}:{dest}:{cmd}")
    assert (t.source, t.destination, t.command) == (src, dest, cmd)


@pytest.mark.parametrize("argv", [
    ["-consul-addr", "1.2.3.4:8500", "-once", "-template", "a:b"],
    ["--consul-addr=1.2.3.4:8500", "--once", "--template=a:b"],
    ["once", "--consul-addr", "1.2.3.4:8500", "-template=a:b"],
    ["-consul-addr=1.2.3.4:8500", "-once=true", "--template", "a:b"],
])
def test_single_and_double_dash_forms_agree(argv: list[str]) -> None:
    opts = parse_args(argv)
    assert opts.values["consul-addr"] == "1.2.3.4:8500"
    assert opts.lists["template"] == ["a:b"]
    assert opts.values.get("once") is True or opts.mode == "once"


def test_subcommands_and_errors() -> None:
    assert parse_args(["watch", "-dry"]).mode == "watch"
    assert parse_args(["-dry"]).mode == "watch"  # plain consul-template style
    with pytest.raises(UsageError, match="flag provided but not defined: -nope"):
        parse_args(["-nope"])
    with pytest.raises(UsageError, match="flag needs an argument: -template"):
        parse_args(["-template"])
    with pytest.raises(UsageError, match="unexpected argument"):
        parse_args(["stray"])
    with pytest.raises(UsageError, match="expected true or false"):
        parse_args(["-once=maybe"])


def test_wait_forms() -> None:
    assert (parse_wait("2s:10s").min, parse_wait("2s:10s").max) == (2.0, 10.0)
    assert parse_wait("500ms").max == 2.0  # max defaults to 4 × min
    for bad in ("10s:2s", "x", "1s:2s:3s"):
        with pytest.raises(ConfigError):
            parse_wait(bad)


def test_hcl_and_json_config_files(tmp_path: Path) -> None:
    src = tmp_path / "in.ctmpl"
    src.write_text("x")
    hcl = tmp_path / "a.hcl"
    hcl.write_text(f'''
consul {{
  address = "127.0.0.9:8500"
  token = "secret"
  retry {{
    backoff = "100ms"
    max_backoff = "2s"
  }}
}}
max_stale = "5s"
wait {{
  min = "1s"
  max = "3s"
}}
kill_signal = "SIGTERM"
template {{
  source = "{src}"
  destination = "{tmp_path}/out.conf"
  command = "nginx -s reload"
  command_timeout = "5s"
  perms = "0600"
  backup = true
  error_on_missing_key = true
  left_delimiter = "[["
  right_delimiter = "]]"
}}
template {{
  contents = "{{{{ key \\"a\\" }}}}"
  destination = "{tmp_path}/two.conf"
  wait = "2s:4s"
}}
''')
    cfg = build_config(Options(lists={"config": [str(hcl)]}), environ={})
    assert cfg.consul.address == "127.0.0.9:8500" and cfg.consul.token == "secret"
    assert (cfg.consul.retry_base, cfg.consul.retry_max, cfg.max_stale) == (0.1, 2.0, 5.0)
    assert cfg.wait is not None and (cfg.wait.min, cfg.wait.max) == (1.0, 3.0)
    assert cfg.kill_signal == signal.SIGTERM
    one, two = cfg.templates
    assert (one.command, one.command_timeout, one.perms, one.backup) == ("nginx -s reload", 5.0, 0o600, True)
    assert (one.error_on_missing_key, one.left_delimiter, one.right_delimiter) == (True, "[[", "]]")
    assert two.contents == '{{ key "a" }}' and two.wait is not None and two.wait.max == 4.0

    js = tmp_path / "b.json"
    js.write_text(json.dumps({"consul": {"address": "127.0.0.8:8500"}, "template": [
        {"source": str(src), "destination": "o", "command": ["nginx", "-s", "reload"]}]}))
    flags = parse_args(["-config", str(js), "-consul-addr", "127.0.0.7:1", "-wait", "1s"])
    cfg = build_config(flags, environ={"CONSUL_HTTP_ADDR": "127.0.0.6:1"})
    assert cfg.consul.address == "127.0.0.7:1"  # flag beats file beats environment
    assert cfg.templates[0].command == ["nginx", "-s", "reload"]


@pytest.mark.parametrize(("argv", "message"), [
    (["-template", "/no/such.ctmpl:/tmp/x"], "no such file"),
    ([], "no templates given"),
    (["-wait", "9s:1s", "-template", "a:b"], "min must be <= max"),
    (["-config", "/no/such/dir"], "no such file or directory"),
    (["-nope"], "flag provided but not defined"),
])
def test_cli_errors_are_one_line_without_traceback(argv: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytemplate", *argv], capture_output=True, text=True, timeout=30)
    assert proc.returncode in (1, 2)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_template_parse_error_is_reported_before_watching(tmp_path: Path) -> None:
    src = tmp_path / "bad.ctmpl"
    src.write_text("ok\n{{ range service \"x\" }}\n")
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", "127.0.0.1:1",
                           "-template", f"{src}:{tmp_path}/out"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"{src}:2:4: unexpected EOF in range" in proc.stderr


def test_unreachable_consul_gives_up_after_the_retry_attempts(tmp_path: Path) -> None:
    src = tmp_path / "in.ctmpl"
    src.write_text('{{ key "x" }}')
    port = free_port()  # nothing listens here
    proc = subprocess.run([sys.executable, "-m", "pytemplate", "-once", "-consul-addr", f"127.0.0.1:{port}",
                           "-consul-retry-attempts", "2", "-consul-retry-backoff", "10ms",
                           "-template", f"{src}:{tmp_path}/out"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.count("retry in") == 2
    assert "giving up after 3 attempts" in proc.stderr
    assert "Traceback" not in proc.stderr
