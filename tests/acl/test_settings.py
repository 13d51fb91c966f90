"""The acl stanza and the old top-level names: values, which name wins, warnings, bad values."""

from __future__ import annotations

from typing import Any

from pyconsul.acl.settings import acl_settings
from pyconsul.config.builder import build
from pyconsul.config.support import given_paths


def _settings(conf: dict[str, Any]) -> tuple[Any, list[str], list[str]]:
    return acl_settings(build({"data_dir": "/tmp/unused", **conf}, dev=False), frozenset(given_paths(conf)))


def test_the_stanza_as_written() -> None:
    settings, warnings, errors = _settings({"acl": {
        "enabled": True, "default_policy": "deny", "down_policy": "async-cache", "token_ttl": "45s",
        "enable_token_persistence": True,
        "tokens": {"initial_management": "root", "agent": "agent-tok", "agent_recovery": "rec", "default": "dflt"},
    }})
    assert (settings.enabled, settings.default_policy, settings.down_policy, settings.token_ttl) == (True, "deny", "async-cache", 45.0)
    assert (settings.initial_management, settings.agent, settings.agent_recovery, settings.default) == ("root", "agent-tok", "rec", "dflt")
    assert settings.enable_token_persistence and warnings == [] and errors == []


def test_old_names_work_and_warn_and_new_names_win() -> None:
    settings, warnings, _ = _settings({
        "acl_datacenter": "dc1", "acl_default_policy": "deny", "acl_master_token": "old-root", "acl_token": "old-default",
        "acl": {"tokens": {"master": "older-root", "agent_master": "rec", "initial_management": "new-root"}},
    })
    assert settings.enabled  # acl_datacenter turns ACLs on, as before 1.4
    assert settings.default_policy == "deny" and settings.default == "old-default" and settings.agent_recovery == "rec"
    assert settings.initial_management == "new-root"
    assert "The 'acl_master_token' field is deprecated. Use the 'acl.tokens.initial_management' field instead." in warnings
    assert "The 'acl.tokens.master' field is deprecated. Use the 'acl.tokens.initial_management' field instead." in warnings
    assert "The 'acl_datacenter' field is deprecated. Use the 'primary_datacenter' field instead." in warnings
    assert "The 'acl.tokens.agent_master' field is deprecated. Use the 'acl.tokens.agent_recovery' field instead." in warnings


def test_bad_policies_are_errors() -> None:
    _, _, errors = _settings({"acl": {"default_policy": "maybe", "down_policy": "sometimes"}})
    assert any("acl.default_policy must be one of allow, deny" in e for e in errors)
    assert any("acl.down_policy must be one of" in e for e in errors)
