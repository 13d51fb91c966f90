"""The agent's own tokens (`acl.tokens.*`, and `/v1/agent/token/:type` at run time), persisted
when `acl.enable_token_persistence` is on.

Rules:
- Values start from the config; with persistence on, `<data_dir>/acl-tokens.json` (written 0600
  whenever the API sets a token; it holds only the tokens the API set) is read at start and its
  values win over the config's, as in Consul, so a token set through the API survives a restart.
- The agent's internal operations (anti-entropy, check updates) use `agent`, else `default`.
- An unreadable file is logged and ignored: the config's tokens still apply.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from pyconsul.acl.settings import ACLSettings

log = logging.getLogger("pyconsul.acl")

TOKENS_FILE = "acl-tokens.json"
# /v1/agent/token/:type → the token it sets (old names as Consul still takes them)
TOKEN_TYPES = {
    "default": "default", "acl_token": "default", "agent": "agent", "acl_agent_token": "agent",
    "agent_recovery": "agent_recovery", "agent_master": "agent_recovery", "acl_agent_master_token": "agent_recovery",
    "replication": "replication", "acl_replication_token": "replication", "dns": "dns",
    "config_file_service_registration": "config_file_service_registration",
}


@dataclass(frozen=True)
class TokenValues:
    default: str = ""
    agent: str = ""
    agent_recovery: str = ""
    replication: str = ""
    dns: str = ""
    config_file_service_registration: str = ""


_NAMES = tuple(f.name for f in fields(TokenValues))


@dataclass
class AgentTokens:
    settings: ACLSettings = field(default_factory=ACLSettings)
    data_dir: str = ""
    values: TokenValues = field(init=False)
    _from_api: dict[str, str] = field(init=False, default_factory=dict)  # only these are persisted

    def __post_init__(self) -> None:
        s = self.settings
        self.values = TokenValues(default=s.default, agent=s.agent, agent_recovery=s.agent_recovery,
                                  replication=s.replication, dns=s.dns)
        self._from_api = self._load()
        if self._from_api:
            self.values = replace(self.values, **self._from_api)

    @property
    def path(self) -> Path | None:
        if not (self.settings.enable_token_persistence and self.data_dir):
            return None
        return Path(self.data_dir) / TOKENS_FILE

    def dns_token(self) -> str:
        """What DNS resolves with: the dns token, else the default one (Consul's DNSToken)."""
        return self.values.dns or self.values.default

    def reload(self, settings: ACLSettings) -> None:
        """A config reload: the config's tokens, except that with persistence on a token the API
        set (and persisted) still wins, as in Consul."""
        self.settings = settings
        base = TokenValues(default=settings.default, agent=settings.agent, agent_recovery=settings.agent_recovery,
                           replication=settings.replication, dns=settings.dns)
        if not settings.enable_token_persistence:
            self._from_api = {}
        values = replace(base, **self._from_api) if self._from_api else base
        if values != self.values:
            self.values = values

    def agent_token(self) -> str:
        """What the agent's own requests carry: the agent token, else the default one."""
        return self.values.agent or self.values.default

    def set(self, kind: str, value: str) -> bool:
        """Set one token by its API type name; False for an unknown type."""
        name = TOKEN_TYPES.get(kind)
        if name is None:
            return False
        self.values = replace(self.values, **{name: value})
        self._from_api[name] = value
        self._save()
        return True

    def _load(self) -> dict[str, str]:
        path = self.path
        if path is None or not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("persisted ACL tokens not loaded", extra={"path": str(path), "error": str(exc)})
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if k in _NAMES and isinstance(v, str) and v}

    def _save(self) -> None:
        path = self.path
        if path is None:
            return
        data = {name: value for name, value in self._from_api.items() if value}
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, path)
