"""Who signs auto_encrypt client certificates: one interface, two signers.

Consul's `AutoEncrypt.Sign` hands the CSR to its Connect CA. A server signs with:
- `ConfiguredCASigner`: the CA the operator gave the built-in provider
  (`connect { ca_config { root_cert, private_key } }`, as in Consul). With the agent CA there
  (`consul-agent-ca.pem` and its key), clients' certificates chain to the CA every agent and the
  CLI already trust, so a client's HTTPS needs nothing new on the CLI side.
- `ConnectCASigner` (`pyconsul/connect/agent_signer.py`): the Connect CA, whenever Connect is on
  (auto_encrypt.allow_tls turns it on, as in Consul).
- `BuiltinCASigner`: the agent CA earlier versions made on first use and replicated through Raft
  (`state/agent_ca.py`). It signs only where Connect is off; its table stays so older snapshots
  load, and the Connect signer keeps trusting its root for the certificates it issued.
Each signer names the state tables whose changes change its roots (`watch_tables`).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from pyconsul.fsm import commands as c
from pyconsul.gocompat.durations import parse_duration
from pyconsul.state.agent_ca import AGENT_CA, AgentCATable
from pyconsul.tls.agent_leaf import IssuedCert, builtin_ca, sign_agent_csr
from pyconsul.tls.certs import CertError

DEFAULT_LEAF_TTL = datetime.timedelta(hours=72)  # Consul's LeafCertTTL


class SignerNotReady(Exception):
    """No CA yet (the built-in one is made by the leader): the caller asks the leader."""


class AgentCertSigner(Protocol):
    @property
    def watch_tables(self) -> tuple[str, ...]:
        """State tables whose changes may change `roots()`."""
        ...

    def roots(self) -> tuple[str, ...]:
        """The CA PEMs that issue client certificates (servers trust them for incoming TLS)."""
        ...

    def sign(self, csr_pem: str, datacenter: str, now: datetime.datetime) -> IssuedCert:
        """Raises CertError (a bad CSR, another datacenter) or SignerNotReady."""
        ...


def _ca_key(conf: Mapping[str, Any], snake: str, camel: str) -> str:
    return str(conf.get(snake) or conf.get(camel) or "")


def leaf_ttl(ca_config: Mapping[str, Any]) -> datetime.timedelta:
    raw = _ca_key(ca_config, "leaf_cert_ttl", "LeafCertTTL")
    return datetime.timedelta(seconds=parse_duration(raw)) if raw else DEFAULT_LEAF_TTL


class ConfiguredCASigner:
    watch_tables: tuple[str, ...] = ()

    def __init__(self, root_pem: str, key_pem: str, ttl: datetime.timedelta, trust_domain: str) -> None:
        self._root, self._key, self._ttl, self._td = root_pem, key_pem, ttl, trust_domain

    def roots(self) -> tuple[str, ...]:
        return (self._root,)

    def sign(self, csr_pem: str, datacenter: str, now: datetime.datetime) -> IssuedCert:
        return sign_agent_csr(self._root, self._key, csr_pem, datacenter=datacenter, trust_domain=self._td,
                              now=now, ttl=self._ttl)


class BuiltinCASigner:
    watch_tables = (AGENT_CA,)

    def __init__(self, table: AgentCATable, ttl: datetime.timedelta) -> None:
        self._table, self._ttl = table, ttl

    def roots(self) -> tuple[str, ...]:
        ca = self._table.get()
        return () if ca is None else (ca.root_pem,)

    def sign(self, csr_pem: str, datacenter: str, now: datetime.datetime) -> IssuedCert:
        ca = self._table.get()
        if ca is None:
            raise SignerNotReady()
        return sign_agent_csr(ca.root_pem, ca.key_pem, csr_pem, datacenter=datacenter,
                              trust_domain=ca.trust_domain, now=now, ttl=self._ttl)

    async def create(self, write: Callable[[c.Command], Awaitable[Any]], now: datetime.datetime) -> None:
        """On the leader: make the CA and replicate it (a racing leader's copy loses to the first)."""
        trust_domain = f"{uuid.uuid4()}.consul"
        root, key = builtin_ca(now, trust_domain)
        await write(c.AgentCAInit(root_pem=root, key_pem=key, trust_domain=trust_domain))


def signer_for(ca_config: Mapping[str, Any], table: AgentCATable, connect_ca: Any = None) -> AgentCertSigner:
    """The operator's CA when `connect.ca_config` has both root_cert and private_key, else the
    Connect CA (`connect_ca`, the state's table, given when Connect is on), else the built-in
    agent CA. A half-given pair is a config error, not a silent fallback."""
    root = _ca_key(ca_config, "root_cert", "RootCert")
    key = _ca_key(ca_config, "private_key", "PrivateKey")
    ttl = leaf_ttl(ca_config)
    if root or key:
        if not (root and key):
            raise CertError("connect.ca_config needs both root_cert and private_key to sign auto_encrypt certificates")
        return ConfiguredCASigner(root, key, ttl, _trust_domain(root))
    if connect_ca is not None:
        from pyconsul.connect.agent_signer import ConnectCASigner

        return ConnectCASigner(connect_ca, table)
    return BuiltinCASigner(table, ttl)


def _trust_domain(root_pem: str) -> str:
    """An operator CA's trust domain: its own spiffe:// URI when it has one, else `consul`."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(root_pem.encode())
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    for uri in uris:
        if uri.startswith("spiffe://"):
            return uri.removeprefix("spiffe://").split("/")[0]
    return "consul"
