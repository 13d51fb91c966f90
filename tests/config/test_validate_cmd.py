"""`python -m pyconsul validate` as an operator runs it (ExecStartPre in the seed's systemd unit)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).parent / "seed001"
# The seed's TLS keys, auto_encrypt's included, are all enforced.
SERVER_ALLOW: tuple[str, ...] = ()
CLIENT_ALLOW: tuple[str, ...] = ()


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyconsul", "validate", *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )


def test_seed_server_config_dir_is_valid() -> None:
    r = validate(*SERVER_ALLOW, SEED / "server")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Configuration is valid!"


def test_seed_client_config_dir_with_mysql_service_is_valid() -> None:
    r = validate(*CLIENT_ALLOW, SEED / "client")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Configuration is valid!"


def test_single_files_and_quiet() -> None:
    r = validate("-quiet", *CLIENT_ALLOW, SEED / "client" / "conf.json", SEED / "client" / "mysql.json")
    assert (r.returncode, r.stdout) == (0, "")


def test_an_unenforced_key_is_refused_without_the_override_naming_it(tmp_path: Path) -> None:
    conf = tmp_path / "replication.json"
    conf.write_text(json.dumps({"data_dir": str(tmp_path / "data"),
                                "enable_acl_replication": True}))
    r = validate(conf)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith("Config validation failed: ")
    assert f"security key 'enable_acl_replication' (in {conf}) is set but not enforced" in r.stderr
    assert "-dev-allow-unenforced=enable_acl_replication" in r.stderr


def test_override_is_warned_and_must_name_a_security_key(tmp_path: Path) -> None:
    conf = tmp_path / "replication.json"
    conf.write_text(json.dumps({"data_dir": str(tmp_path / "data"),
                                "enable_acl_replication": True}))
    r = validate("-dev-allow-unenforced=enable_acl_replication", conf)
    assert r.returncode == 0
    assert ("WARNING: -dev-allow-unenforced=enable_acl_replication: security key "
            "'enable_acl_replication'") in r.stderr
    assert "is NOT ENFORCED" in r.stderr
    r = validate("-dev-allow-unenforced=telemetry", SEED / "client")
    assert r.returncode == 1
    assert "-dev-allow-unenforced: 'telemetry' is not a security key; one of: acl.enable_token_replication" in r.stderr


def test_unimplemented_key_is_a_warning_naming_key_and_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"data_dir": "/d", "telemetry": {"statsite_address": "s:8125"}}))
    (tmp_path / "b.hcl").write_text('limits { rpc_max_burst = 5 }\nacl { enabled = false }\n')
    r = validate(tmp_path)
    assert (r.returncode, r.stdout) == (0, "Configuration is valid!\n"), r.stderr
    assert r.stderr.splitlines() == [
        f"WARNING: config key 'limits.rpc_max_burst' (in {tmp_path / 'b.hcl'}) is recognised but "
        "not implemented: it has no effect",
        f"WARNING: config key 'telemetry.statsite_address' (in {tmp_path / 'a.json'}) is recognised but "
        "not implemented: it has no effect",
    ]


def test_seed_config_with_the_blogs_comments_left_in_is_rejected(tmp_path: Path) -> None:
    text = (SEED / "server" / "conf.json").read_text().replace(
        '"bootstrap_expect": 3,', '"bootstrap_expect": 3, //数量等同于期望组件集群的最小数量'
    )
    (tmp_path / "conf.json").write_text(text, encoding="utf-8")
    r = validate(tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("Config validation failed: Error parsing ")
    assert str(tmp_path / "conf.json") in r.stderr
    assert "line 4" in r.stderr


def test_unknown_key_is_named_with_its_file(tmp_path: Path) -> None:
    shutil.copy(SEED / "client" / "conf.json", tmp_path / "conf.json")
    (tmp_path / "typo.json").write_text(json.dumps({"retry_jion": ["10.0.0.1"], "ports": {"htps": 8501}}))
    r = validate(tmp_path)
    assert r.returncode == 1
    assert f"Error parsing {tmp_path / 'typo.json'}" in r.stderr
    assert "invalid config key retry_jion" in r.stderr
    assert "invalid config key ports.htps" in r.stderr
    assert "Configuration is valid!" not in r.stdout


def test_wrong_type_is_named_with_its_file(tmp_path: Path) -> None:
    conf = json.loads((SEED / "server" / "conf.json").read_text())
    conf["bootstrap_expect"] = "3"
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    r = validate(tmp_path)
    assert r.returncode == 1
    assert str(tmp_path / "conf.json") in r.stderr
    assert "'bootstrap_expect' expected type 'int'" in r.stderr


def test_broken_service_definition(tmp_path: Path) -> None:
    shutil.copy(SEED / "client" / "conf.json", tmp_path / "conf.json")
    (tmp_path / "web.json").write_text(json.dumps({"service": {"name": "web", "check": {"args": ["true"]}}}))
    r = validate(tmp_path)
    assert r.returncode == 1
    assert "Interval must be > 0" in r.stderr


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"server": False, "bootstrap_expect": 3}, "'bootstrap_expect > 0' requires 'server = true'"),
        ({"data_dir": ""}, "data_dir cannot be empty"),
        ({"retry_interval": "3 seconds"}, "retry_interval: invalid duration"),
        ({"datacenter": "dc 1"}, "datacenter can only contain lowercase alphanumeric"),
        ({"encrypt": "not-base64!"}, "encrypt has invalid key"),
        ({"bind_addr": "my-host"}, "bind_addr: invalid IP address"),
    ],
)
def test_invalid_settings(tmp_path: Path, conf: dict[str, object], message: str) -> None:
    base = json.loads((SEED / "client" / "conf.json").read_text())
    base.update(conf)
    (tmp_path / "conf.json").write_text(json.dumps(base))
    r = validate(tmp_path / "conf.json")
    assert r.returncode == 1
    assert message in r.stderr


def test_hcl_directory(tmp_path: Path) -> None:
    (tmp_path / "agent.hcl").write_text(
        'data_dir = "/var/lib/consul"\nserver = true\nbootstrap_expect = 3\n'
        'ports {\n  http = -1\n  https = 8501\n}\n'
        'service {\n  name = "web"\n  port = 80\n  check {\n    http = "http://127.0.0.1/"\n'
        '    interval = "10s"\n  }\n}\n'
    )
    r = validate(tmp_path)
    assert r.returncode == 0, r.stderr


def test_missing_arguments_and_paths(tmp_path: Path) -> None:
    r = validate()
    assert r.returncode == 1
    assert "Must specify at least one config file or directory" in r.stderr
    r = validate(tmp_path / "nope.json")
    assert r.returncode == 1
    assert "no such file or directory" in r.stderr
