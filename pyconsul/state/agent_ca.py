"""The built-in CA that signs auto_encrypt client certificates: one replicated row.

Consul signs auto_encrypt certificates with its Connect CA, whose built-in provider keeps the
root and its private key in Raft so every server can sign and every server trusts what another
signed. This table is that minimum: the first `init` wins (a second leader racing to create one
changes nothing), readers take `indexes.get(AGENT_CA)` and may watch `watch.table(AGENT_CA)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyconsul.state.txn import IndexTable, WriteTxn

AGENT_CA = "agent-ca"


@dataclass(frozen=True)
class AgentCA:
    root_pem: str
    key_pem: str
    trust_domain: str


class AgentCATable:
    def __init__(self, txn: WriteTxn, indexes: IndexTable) -> None:
        self.txn = txn
        self.indexes = indexes
        self.ca: AgentCA | None = None

    def get(self) -> AgentCA | None:
        return self.ca

    def init(self, idx: int, ca: AgentCA) -> bool:
        """Store `ca` unless one is there already; True when it was stored."""
        if self.ca is not None:
            return False
        self.ca = ca
        self.txn.bump(idx, AGENT_CA)
        return True

    def snapshot(self) -> dict[str, Any]:
        ca = self.ca
        return {AGENT_CA: None if ca is None else
                {"root": ca.root_pem, "key": ca.key_pem, "trust_domain": ca.trust_domain}}

    def restore(self, snap: dict[str, Any]) -> None:
        saved = snap.get(AGENT_CA)
        if not saved:
            # A snapshot from before the CA was made keeps the one there is: the client
            # certificates it signed are out there, and dropping it would make every server
            # refuse them until each client renews. Every server holds the same CA (it is
            # replicated), so each restores to the same state.
            return
        self.ca = AgentCA(str(saved["root"]), str(saved["key"]), str(saved["trust_domain"]))
