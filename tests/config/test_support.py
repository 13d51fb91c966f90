"""The typed config and the support table: every accepted key lands in a typed field, and every
recognised key is implemented, a warning naming it and its file, or a security key that refuses
to start while it is not enforced."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pyconsul.config.builder import build
from pyconsul.config.errors import ConfigError
from pyconsul.config.keys import AGENT
from pyconsul.config.loader import load_agent_config, reload_config, validate_paths
from pyconsul.config.runtime import RuntimeConfig
from pyconsul.config.spec import AnyValue, ListOf, MapOf, Scalar, Spec, Struct
from pyconsul.config.support import IMPLEMENTED, KEY_SUPPORT, SECURITY_RULES, Support, key_paths

# A valid value per scalar kind, and the keys whose validation wants another one.
SAMPLE: dict[str, Any] = {"str": "10.0.0.9", "int": 7, "bool": True, "float": 2.5, "dur": "7s"}
SPECIAL: dict[str, Any] = {
    "node_id": "5e1d1b0c-3f37-4d7c-9a10-0d4f0c4b1c2a", "datacenter": "dc-7", "encrypt": "cg8StVXbQJ0gPvMd9o7yrg==",
    "log_level": "warn", "domain": "corp.", "alt_domain": "alt.", "bootstrap": False, "bootstrap_expect": 0, "auto_encrypt.allow_tls": False,
    # the UI's path is held as Consul normalises it (one slash each side), so a sample that is
    # already normal lands unchanged
    "ui_content_path": "/dash/", "ui_config.content_path": "/dash/",
    # TLS versions and cipher suites are checked against Consul's names
    **{f"{prefix}{key}": value for prefix in ("", "tls.defaults.", "tls.internal_rpc.", "tls.https.", "tls.grpc.")
       for key, value in (("tls_min_version", "TLSv1_3"),
                          ("tls_cipher_suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))},
}
# Keys whose field has another name (or a flattened block) in RuntimeConfig.
RENAMED = {"raft_snapshot_threshold": "snapshot_threshold", "dns_config.soa.expire": "dns_config.soa_expire",
           "dns_config.soa.min_ttl": "dns_config.soa_min_ttl", "dns_config.soa.refresh": "dns_config.soa_refresh",
           "dns_config.soa.retry": "dns_config.soa_retry"}
DEFINITIONS = {"service", "services", "check", "checks"}


def spec_at(path: str) -> Spec:
    spec: Spec = AGENT
    for part in path.split("."):
        assert isinstance(spec, Struct)
        spec = spec.fields[part]
    return spec


def sample(path: str, spec: Spec) -> tuple[Any, Any]:
    """(value to write, what the typed field must then hold)."""
    if path in SPECIAL:
        return SPECIAL[path], SPECIAL[path]
    if isinstance(spec, Scalar):
        value = SAMPLE[spec.kind]
        return value, 7.0 if spec.kind == "dur" else value
    if isinstance(spec, ListOf):
        return ([{"k": "v"}], [{"k": "v"}]) if isinstance(spec.item, AnyValue) else (["10.0.0.9"], ["10.0.0.9"])
    if isinstance(spec, MapOf):
        return ({"k": "7s"}, {"k": 7.0}) if spec.value == Scalar("dur") else ({"k": "v"}, {"k": "v"})
    return {"k": "v"}, {"k": "v"}


def nested(path: str, value: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {}
    d = conf
    *parents, leaf = path.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[leaf] = value
    return conf


def field_at(rc: RuntimeConfig, path: str) -> Any:
    obj: Any = rc
    for part in RENAMED.get(path, path).split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", [p for p in key_paths() if p not in DEFINITIONS])
def test_every_key_lands_in_its_typed_field(path: str) -> None:
    value, held = sample(path, spec_at(path))
    rc = build({"data_dir": "/d", **nested(path, value)}, dev=False)
    assert field_at(rc, path) == held


def test_blocks_are_frozen_dataclasses_with_the_blocks_keys() -> None:
    rc = RuntimeConfig()
    for name, spec in AGENT.fields.items():
        if not isinstance(spec, Struct) or name in DEFINITIONS:
            continue
        stanza = getattr(rc, name)
        assert dataclasses.is_dataclass(stanza), name
        names = {f.name for f in dataclasses.fields(stanza)}
        keys = set(spec.fields)
        if name == "dns_config":
            keys = keys - {"soa"} | {f"soa_{k}" for k in ("expire", "min_ttl", "refresh", "retry")}
        assert names == keys, name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(stanza, next(iter(names)), None)
    assert not hasattr(rc, "extra")


def test_hcl_blocks_and_durations_fill_the_stanzas(tmp_path: Path) -> None:
    (tmp_path / "a.hcl").write_text(
        'data_dir = "/d"\n'
        'ports { grpc = 8502 }\n'
        'performance { leave_drain_time = "10s" }\n'
        'gossip_lan { probe_interval = "200ms" gossip_nodes = 4 }\n'
        'acl { tokens { agent = "t" } }\n'
        'ui = true\n'
        'dns_config { soa { min_ttl = 30 } recursor_strategy = "random" }\n'
    )
    rc = load_agent_config(["-config-file", str(tmp_path / "a.hcl")])
    assert (rc.ports.grpc, rc.ports.http) == (8502, 8500)
    assert rc.performance.leave_drain_time == 10.0 and rc.performance.raft_multiplier == 5
    assert rc.gossip_lan.overrides() == {"probe_interval": 0.2, "gossip_nodes": 4}
    assert rc.acl.tokens.agent == "t" and rc.acl.enabled is False
    assert rc.ui and rc.ui_config.enabled  # the legacy key and the block say the same
    assert (rc.dns_config.soa_min_ttl, rc.dns_config.recursor_strategy) == (30, "random")


def test_unknown_keys_still_error_inside_the_newly_typed_blocks(tmp_path: Path) -> None:
    for block in ("tls", "connect", "telemetry", "gossip_lan"):
        (tmp_path / "a.json").write_text(json.dumps({"data_dir": "/d", block: {"bogus": 1}}))
        with pytest.raises(ConfigError, match=rf"invalid config key {block}\.bogus"):
            load_agent_config(["-config-file", str(tmp_path / "a.json")])


def test_the_table_names_every_recognised_key_once() -> None:
    paths = key_paths()
    assert sorted(KEY_SUPPORT) == sorted(paths) and len(set(paths)) == len(paths)
    # No typo hides a key: every name the table lists is a real key path.
    assert set(IMPLEMENTED) <= set(paths) and set(SECURITY_RULES) <= set(paths)
    assert KEY_SUPPORT["acl.enabled"] is Support.IMPLEMENTED
    assert KEY_SUPPORT["acl.enable_token_replication"] is Support.SECURITY
    assert KEY_SUPPORT["verify_incoming_https"] is Support.IMPLEMENTED
    assert KEY_SUPPORT["telemetry.statsite_address"] is Support.NOT_IMPLEMENTED


def write(path: Path, conf: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"data_dir": "/d", **conf}))
    return path


CLIENT_HTTPS = {"ports": {"https": 8501}, "cert_file": "/c.pem", "key_file": "/k.pem", "ca_file": "/ca.pem"}


@pytest.mark.parametrize(
    ("conf", "refused"),
    [
        ({"acl": {"enabled": False}}, []),
        # ACLs are enforced; the legacy replication key is not
        ({"acl": {"enabled": True}}, []),
        ({"acl": {"enabled": True, "default_policy": "deny", "down_policy": "deny"}}, []),
        ({"acl_datacenter": "dc1", "acl_default_policy": "deny"}, []),
        # token replication runs on a secondary's servers; in the primary it only warns
        ({"acl": {"enabled": True, "enable_token_replication": True}}, []),
        ({"enable_acl_replication": True}, ["enable_acl_replication"]),
        ({"verify_incoming": False, "verify_outgoing": False, "verify_server_hostname": False}, []),
        # HTTPS enforces verify_incoming; a client has no RPC listener to leave open.
        ({"verify_incoming": True, **CLIENT_HTTPS}, []),
        ({"verify_incoming_https": True, "server": True, **CLIENT_HTTPS}, []),
        # the server port and outgoing RPC enforce the internal_rpc settings
        ({"verify_incoming": True, "server": True}, []),
        ({"verify_incoming_rpc": True, "server": True}, []),
        ({"verify_outgoing": True}, []),
        ({"verify_server_hostname": True}, []),
        ({"server": True, "tls": {"defaults": {"verify_incoming": True}, "https": {"verify_outgoing": False}}}, []),
        ({"tls": {"internal_rpc": {"verify_server_hostname": True}}}, []),
        ({"tls": {"grpc": {"verify_incoming": True}}}, ["tls.grpc.verify_incoming"]),
        ({"tls": {"https": {"verify_server_hostname": True}}}, ["tls.https.verify_server_hostname"]),
        ({"encrypt": "cg8StVXbQJ0gPvMd9o7yrg==", "encrypt_verify_incoming": True, "encrypt_verify_outgoing": True},
         []),
        ({"encrypt_verify_incoming": True}, []),
        ({"encrypt": "cg8StVXbQJ0gPvMd9o7yrg==", "encrypt_verify_incoming": False, "encrypt_verify_outgoing": False},
         []),
        ({"auto_encrypt": {"tls": True}}, []),
        ({"server": True, "auto_encrypt": {"allow_tls": True}}, []),
        ({"connect": {"enabled": False}}, []),
        ({"connect": {"enabled": True}}, []),  # the built-in CA, intentions and the proxy
    ],
)
def test_security_keys_refuse_only_when_on_and_unenforced(
        tmp_path: Path, conf: dict[str, Any], refused: list[str]) -> None:
    f = write(tmp_path / "sec.json", conf)
    if not refused:
        validate_paths([str(f)])
        return
    with pytest.raises(ConfigError) as err:
        validate_paths([str(f)])
    for key in refused:
        assert f"security key {key!r} (in {f}) is set but not enforced: " in str(err.value)
        assert f"for development only allow it with -dev-allow-unenforced={key}" in str(err.value)
    rc = validate_paths([str(f)], dev_allow_unenforced=refused)
    assert [w for w in rc.config_warnings if "NOT ENFORCED" in w] == [
        f"-dev-allow-unenforced={key}: security key {key!r} (in {f}) is NOT ENFORCED: "
        + str(SECURITY_RULES[key].unenforced(rc, frozenset(refused))) + ". For development only."
        for key in sorted(refused)
    ]


def test_warning_names_every_file_that_sets_the_key(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    write(d / "a.json", {"telemetry": {"statsite_address": "s:1"}})
    write(d / "b.json", {"telemetry": {"statsite_address": "s:2"}})
    rc = load_agent_config([f"-config-dir={d}", "-hcl", 'limits { rpc_rate = 5 }', "-grpc-port", "8502"])
    assert rc.config_warnings == [
        "config key 'limits.rpc_rate' (in flags-0.hcl) is recognised but not implemented: it has no effect",
        "config key 'ports.grpc' (in command-line flags) is recognised but not implemented: it has no effect",
        f"config key 'telemetry.statsite_address' (in {d / 'a.json'}, {d / 'b.json'}) is recognised but not "
        "implemented: it has no effect",
    ]
    assert load_agent_config([f"-config-dir={d}", "-dev"]).config_warnings == rc.config_warnings[2:]


def test_reload_refuses_a_new_unenforced_key_unless_the_agent_was_started_allowing_it(tmp_path: Path) -> None:
    f = write(tmp_path / "a.json", {})
    old = load_agent_config([f"-config-file={f}"])
    assert old.config_warnings == []
    write(f, {"enable_acl_replication": True})
    with pytest.raises(ConfigError, match="security key 'enable_acl_replication' .* is set but not enforced"):
        reload_config(old)
    allowed = load_agent_config(["-dev-allow-unenforced=enable_acl_replication", f"-config-file={f}"])
    new = reload_config(allowed)
    assert new.dev_allow_unenforced == ["enable_acl_replication"]
    assert any(w.startswith("-dev-allow-unenforced=enable_acl_replication: ") for w in new.config_warnings)


def test_override_must_name_a_security_key() -> None:
    with pytest.raises(ConfigError, match="-dev-allow-unenforced: 'telemetry' is not a security key; one of: "):
        load_agent_config(["-dev", "-dev-allow-unenforced=telemetry"])


def test_help_documents_the_override() -> None:
    from pyconsul.config.errors import HelpRequested

    with pytest.raises(HelpRequested) as err:
        load_agent_config(["-help"])
    assert "-dev-allow-unenforced=<value>\n     DEVELOPMENT ONLY." in str(err.value)
