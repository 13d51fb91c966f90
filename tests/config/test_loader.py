"""load_agent_config / load_config_sources / reload_config: files, dirs, flags, -hcl, as Consul layers them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyconsul.config.errors import ConfigError
from pyconsul.config.loader import load_agent_config, load_config_sources, reload_config
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.config.stanzas import ACL, ACLTokens, AutoEncrypt

SEED = Path(__file__).parent / "seed001"
SERVER_ALLOW: list[str] = []  # the seed's server TLS keys are all enforced
CLIENT_ALLOW: list[str] = []  # auto_encrypt.tls is enforced too


def write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_seed_server_config() -> None:
    rc = load_agent_config([*SERVER_ALLOW, "-config-dir", str(SEED / "server")])
    assert rc.node_name == "172.19.0.3"
    assert rc.server and rc.bootstrap_expect == 3 and not rc.bootstrap
    assert rc.bind_addr == "172.19.0.3" and rc.client_addr == "0.0.0.0"
    assert rc.domain == "consul."
    assert rc.leave_on_terminate is True
    assert rc.start_join == ["172.19.0.3", "172.19.0.4", "172.19.0.5"]
    assert rc.retry_interval == 2.0
    assert (rc.verify_incoming, rc.verify_outgoing, rc.verify_server_hostname) == (True, True, True)
    rpc = rc.tls_settings.internal_rpc
    assert (rpc.verify_incoming, rpc.verify_outgoing, rpc.verify_server_hostname) == (True, True, True)
    assert rc.ca_file == "/etc/consul.d/consul-agent-ca.pem"
    assert (rc.ports.http, rc.ports.https, rc.ports.dns) == (-1, 8501, 8600)
    assert rc.ui is False


def test_seed_client_config_and_mysql_service() -> None:
    rc = load_agent_config([*CLIENT_ALLOW, f"-config-dir={SEED / 'client'}"])
    assert rc.retry_join == ["172.19.0.3", "172.19.0.4", "172.19.0.5"]
    assert rc.retry_interval == 3.0 and rc.rejoin_after_leave and rc.enable_script_checks
    assert rc.auto_encrypt == AutoEncrypt(tls=True)
    assert rc.services == [
        {
            "Name": "r-3306-mysql",
            "Tags": ["slave-3306"],
            "Address": "172.16.0.2",
            "Port": 3306,
            "Checks": [{"Args": ["echo"], "Interval": "10s"}],
        }
    ]


def test_issue7_command_line(tmp_path: Path) -> None:
    f = write(tmp_path / "f.json", {"services": [{"name": "web", "port": 80}]})
    rc = load_agent_config(
        "-node node1 -datacenter dc1 -bind 127.0.0.1 -client 127.0.0.1 -server -bootstrap".split()
        + ["-config-file", str(f), "-data-dir", str(tmp_path / "d"), "-pid-file", str(tmp_path / "p")]
    )
    assert (rc.node_name, rc.datacenter, rc.bind_addr, rc.client_addr) == ("node1", "dc1", "127.0.0.1", "127.0.0.1")
    assert rc.server and rc.bootstrap
    assert rc.data_dir == str(tmp_path / "d") and rc.pid_file == str(tmp_path / "p")
    assert [s["Name"] for s in rc.services] == ["web"]


def test_flags_override_files_and_hcl_overrides_flags(tmp_path: Path) -> None:
    write(tmp_path / "a.json", {"data_dir": "/d", "node_name": "from-file", "log_level": "WARN", "ports": {"dns": 53}})
    rc = load_agent_config(
        ["-config-dir", str(tmp_path), "--node=from-flag", "-log-level", "DEBUG", "-hcl", 'log_level = "ERR"',
         "-http-port", "18500"]
    )
    assert rc.node_name == "from-flag"
    assert rc.log_level == "ERR"
    assert (rc.ports.dns, rc.ports.http) == (53, 18500)


def test_directory_files_merge_in_lexical_order(tmp_path: Path) -> None:
    write(tmp_path / "20-b.json", {"node_name": "b", "retry_join": ["b1"], "node_meta": {"k2": "b"}})
    write(tmp_path / "10-a.hcl", 'data_dir = "/d"\nnode_name = "a"\nretry_join = ["a1"]\nnode_meta { k1 = "a"\n k2 = "a" }\n')
    write(tmp_path / "30-c.json", {"retry_join": ["c1"], "service": {"name": "c"}})
    write(tmp_path / "40-d.json", {"service": {"name": "d"}})
    write(tmp_path / "README.txt", "not config")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "x.json", {"bogus": True})
    rc = load_agent_config(["-config-dir", str(tmp_path)])
    assert rc.node_name == "b"
    assert rc.retry_join == ["a1", "b1", "c1"]
    assert rc.node_meta == {"k1": "a", "k2": "b"}
    assert [s["Name"] for s in rc.services] == ["c", "d"]


def test_config_files_and_dirs_in_command_line_order(tmp_path: Path) -> None:
    d = tmp_path / "dir"
    d.mkdir()
    write(d / "x.json", {"node_name": "dir", "data_dir": "/d"})
    f = write(tmp_path / "f.json", {"node_name": "file"})
    assert load_agent_config(["-config-dir", str(d), "-config-file", str(f)]).node_name == "file"
    assert load_agent_config(["-config-file", str(f), "-config-dir", str(d)]).node_name == "dir"


def test_dev_defaults_and_dev_overrides() -> None:
    rc = load_agent_config(["-dev", "-node", "n", "-http-port", "0", "-ui=false"])
    dev = RuntimeConfig.dev_defaults()
    assert rc.dev and rc.server and rc.bootstrap and rc.data_dir == ""
    assert rc.ui is False and dev.ui is True
    assert rc.ports.http == 0


def test_service_and_check_aliases_normalise_to_api_shape(tmp_path: Path) -> None:
    write(tmp_path / "s.json", {
        "data_dir": "/d",
        "services": [{
            "ID": "web1", "Name": "web", "EnableTagOverride": True, "tagged_addresses": {"lan": {"address": "10.0.0.1", "port": 80}},
            "weights": {"passing": 3}, "meta": {"Env": "prod"},
            "Check": {"ScriptArgs": ["/bin/true"], "Interval": "5s"},
            "checks": [
                {"id": "web-http", "http": "https://127.0.0.1/", "tls_skip_verify": True, "TLSServerName": "web",
                 "method": "POST", "header": {"X-A": ["1"]}, "body": "{}", "interval": "10s", "timeout": "1s",
                 "deregister_critical_service_after": "90m", "success_before_passing": 2,
                 "failures_before_critical": 3, "notes": "n"},
                {"CheckID": "web-ttl", "TTL": "30s", "status": "passing"},
            ],
        }],
        "checks": [{"name": "mem", "service_id": "web1", "tcp": "127.0.0.1:80", "interval": "10s"}],
    })
    rc = load_agent_config(["-config-dir", str(tmp_path)])
    (svc,) = rc.services
    assert svc["ID"] == "web1" and svc["EnableTagOverride"] is True
    assert svc["TaggedAddresses"] == {"lan": {"Address": "10.0.0.1", "Port": 80}}
    assert svc["Weights"] == {"Passing": 3, "Warning": 1}
    assert svc["Meta"] == {"Env": "prod"}
    script, http, ttl = svc["Checks"]
    assert script == {"Args": ["/bin/true"], "Interval": "5s"}
    assert http == {
        "CheckID": "web-http", "HTTP": "https://127.0.0.1/", "TLSSkipVerify": True, "TLSServerName": "web",
        "Method": "POST", "Header": {"X-A": ["1"]}, "Body": "{}", "Interval": "10s", "Timeout": "1s",
        "DeregisterCriticalServiceAfter": "90m", "SuccessBeforePassing": 2, "FailuresBeforeCritical": 3,
        "Notes": "n",
    }
    assert ttl == {"CheckID": "web-ttl", "TTL": "30s", "Status": "passing"}
    assert rc.checks == [{"CheckID": "mem", "Name": "mem", "ServiceID": "web1", "TCP": "127.0.0.1:80", "Interval": "10s"}]


def test_keys_of_unbuilt_subsystems_are_kept_typed(tmp_path: Path) -> None:
    write(tmp_path / "a.json", {
        "data_dir": "/d", "telemetry": {"statsd_address": "127.0.0.1:8125"}, "retry_join_wan": ["w"],
        "acl": {"enabled": True, "default_policy": "deny", "tokens": {"agent": "t"}},
        "dns_config": {"node_ttl": "10s", "service_ttl": {"*": "5s"}, "recursor_strategy": "random"},
        "performance": {"raft_multiplier": 1},
    })
    rc = load_agent_config(["-config-file", str(tmp_path / "a.json")])
    assert rc.telemetry.statsd_address == "127.0.0.1:8125"
    assert rc.retry_join_wan == ["w"]
    assert rc.acl == ACL(enabled=True, default_policy="deny", tokens=ACLTokens(agent="t"))
    assert rc.dns_config.node_ttl == 10.0 and rc.dns_config.service_ttl == {"*": 5.0}
    assert rc.dns_config.recursor_strategy == "random"
    assert rc.raft_multiplier == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["-node"], "flag needs an argument: -node"),
        (["-dev", "-bootstrap-expect", "three"], 'invalid value "three" for flag -bootstrap-expect'),
        (["-dev", "-server=maybe"], 'invalid boolean value "maybe"'),
        (["-dev", "-retry-interval", "5"], 'invalid value "5" for flag -retry-interval'),
        (["-dev", "-node-meta", "novalue"], "key:value"),
        (["-dev", "extra"], "Unexpected extra arguments"),
        (["-dev", "-config-format", "yaml"], "-config-format must be 'hcl' or 'json'"),
        (["-dev", "-hcl", "ports {"], "Error parsing flags-0.hcl"),
        (["-dev", "-hcl", "bogus = 1"], "invalid config key bogus"),
        (["-node", "x"], "data_dir cannot be empty"),
    ],
)
def test_bad_flags(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_agent_config(argv)
    assert message in str(err.value)


def test_config_file_without_known_extension(tmp_path: Path) -> None:
    f = write(tmp_path / "agent.conf", {"data_dir": "/d", "node_name": "n"})
    with pytest.raises(ConfigError, match="No format specified"):
        load_agent_config(["-config-file", str(f)])
    assert load_agent_config(["-config-format", "json", "-config-file", str(f)]).node_name == "n"


def test_load_config_sources_merges_files_dirs_and_hcl(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    write(d / "a.json", {"retry_join": ["x"], "services": [{"name": "a"}]})
    f = write(tmp_path / "f.hcl", 'retry_join = ["f"]\n')
    conf = load_config_sources([str(f)], [str(d)], ['retry_join = ["h"]'])
    assert conf["retry_join"] == ["f", "x", "h"]
    assert conf["services"] == [{"name": "a"}]


def test_reload_reads_the_same_sources_again(tmp_path: Path) -> None:
    write(tmp_path / "agent.json", {"data_dir": "/d", "node_name": "n"})
    write(tmp_path / "web.json", {"service": {"name": "web", "port": 80}})
    old = load_agent_config(["-config-dir", str(tmp_path), "-log-level", "debug"])
    assert [s["Name"] for s in old.services] == ["web"]
    write(tmp_path / "db.json", {"service": {"name": "db", "port": 5432}})
    (tmp_path / "web.json").unlink()
    new = reload_config(old)
    assert [s["Name"] for s in new.services] == ["db"]
    assert new.node_id == old.node_id
    assert new.log_level == "debug"  # flags still win after a reload
    write(tmp_path / "broken.json", "{")
    with pytest.raises(ConfigError, match="broken.json"):
        reload_config(new)


def test_help_flag_gives_the_usage() -> None:
    from pyconsul.config.errors import HelpRequested

    for flag in ("-h", "-help", "--help"):
        with pytest.raises(HelpRequested) as err:
            load_agent_config(["-dev", flag])
        assert str(err.value).startswith("Usage: consul agent [options]")
        assert "-retry-join=<value>" in str(err.value) and "  -server\n" in str(err.value)
