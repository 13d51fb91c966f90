"""auto_encrypt client certificates signed by the Connect CA, as Consul's AutoEncrypt.Sign does.

The certificate carries the agent's SPIFFE URI in the CA's trust domain
(`spiffe://<cluster>.consul/agent/client/dc/<dc>/id/<node>`) and the CSR's DNS and IP SANs, for
the CA's LeafCertTTL. Servers trust every root the CA still holds (a rotated-out one keeps
verifying the certificates it signed until it is pruned) and, after an upgrade, the root of the
built-in agent CA earlier versions signed with, so certificates it issued keep working until
their clients renew them. Until the leader has made the CA, signing raises SignerNotReady (the
sign endpoint asks the leader; the client retries).
"""

from __future__ import annotations

import datetime

from pyconsul.connect import ca, ca_ops, spiffe
from pyconsul.state.agent_ca import AGENT_CA, AgentCATable
from pyconsul.state.connect_ca import CA_ROOTS, ConnectCATable
from pyconsul.tls.agent_leaf import IssuedCert, sign_agent_csr
from pyconsul.tls.signer import SignerNotReady


class ConnectCASigner:
    watch_tables = (CA_ROOTS, AGENT_CA)

    def __init__(self, connect_ca: ConnectCATable, legacy: AgentCATable) -> None:
        self._ca, self._legacy = connect_ca, legacy

    def roots(self) -> tuple[str, ...]:
        pems = [pem for r in self._ca.roots for pem in (r["RootCert"], *(r.get("IntermediateCerts") or []))]
        old = self._legacy.get()
        if old is not None:
            pems.append(old.root_pem)
        return tuple(pems)

    def sign(self, csr_pem: str, datacenter: str, now: datetime.datetime) -> IssuedCert:
        root, config = self._ca.active_root(), self._ca.config
        if root is None or config is None:
            raise SignerNotReady()
        ttl = ca_ops.leaf_ttl_of(config)
        cert, key = ca.signing_pair(root)
        return sign_agent_csr(cert, key, csr_pem, datacenter=datacenter,
                              trust_domain=spiffe.trust_domain(str(config["ClusterID"])), now=now,
                              ttl=datetime.timedelta(seconds=ttl))
