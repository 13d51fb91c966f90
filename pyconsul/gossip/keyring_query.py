"""Keyring operations fanned out to every member, like Serf's internal `_serf_*-key` queries.

The asking agent sends each alive member one TCP gossip exchange (sealed like any other gossip,
so only a key holder can ask) carrying `QUERY_PREFIX + JSON {"Op", "Key"}`; each member applies
it to its own keyring and answers `{"Keys", "Primary", "Error"}`. `tally` turns the answers into
Consul's per-pool KeyringResponse (key counts, primary counts, per-node messages, the
"N/M nodes reported failure" error). Everything here is pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pyconsul.gossip.crypto import Keyring, KeyringError

# Gossip packets are msgpack arrays; a frame starting with this byte is a keyring query instead.
QUERY_PREFIX = b"K"
OPS = ("list", "install", "use", "remove")
NOT_ENABLED = "Keyring is empty (encryption not enabled)"


@dataclass(frozen=True)
class NodeAnswer:
    keys: tuple[str, ...] = ()
    primary: str = ""
    error: str = ""


@dataclass
class PoolResult:
    """One pool's KeyringResponse, as /v1/operator/keyring renders it."""

    wan: bool
    datacenter: str
    num_nodes: int
    keys: dict[str, int] = field(default_factory=dict)
    primary_keys: dict[str, int] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"WAN": self.wan, "Datacenter": self.datacenter, "Segment": "", "Partition": "",
                "Keys": self.keys, "PrimaryKeys": self.primary_keys, "Messages": self.messages,
                "NumNodes": self.num_nodes}

    def to_forwarded_json(self) -> dict[str, Any]:
        """What a server of another datacenter answers a forwarded operation with (its error too)."""
        return {**self.to_json(), "Error": self.error}

    @classmethod
    def from_forwarded_json(cls, row: dict[str, Any]) -> PoolResult:
        """Raises ValueError for anything but `to_forwarded_json`'s shape."""
        try:
            return cls(bool(row["WAN"]), str(row["Datacenter"]), int(row["NumNodes"]),
                       {str(k): int(v) for k, v in (row.get("Keys") or {}).items()},
                       {str(k): int(v) for k, v in (row.get("PrimaryKeys") or {}).items()},
                       {str(k): str(v) for k, v in (row.get("Messages") or {}).items()}, str(row.get("Error") or ""))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed keyring response: {exc}") from None

    @property
    def pool_name(self) -> str:
        return "WAN" if self.wan else f"{self.datacenter} (LAN)"


def encode_query(op: str, key: str) -> bytes:
    return QUERY_PREFIX + json.dumps({"Op": op, "Key": key}).encode()


def is_query(payload: bytes) -> bool:
    return payload[:1] == QUERY_PREFIX


def decode_query(payload: bytes) -> tuple[str, str]:
    """Raises ValueError for anything but a well-formed query."""
    body = json.loads(payload[len(QUERY_PREFIX):])
    if not isinstance(body, dict) or body.get("Op") not in OPS or not isinstance(body.get("Key", ""), str):
        raise ValueError("malformed keyring query")
    return body["Op"], body.get("Key", "")


def answer(keyring: Keyring | None, op: str, key: str) -> tuple[NodeAnswer, bool]:
    """Apply one operation to this member's keyring: (the answer, whether the keyring changed)."""
    if keyring is None:
        return NodeAnswer(error=NOT_ENABLED), False
    before = keyring.keys
    try:
        if op == "install":
            keyring.install(key)
        elif op == "use":
            keyring.use(key)
        elif op == "remove":
            keyring.remove(key)
    except KeyringError as exc:
        return NodeAnswer(tuple(keyring.keys), keyring.primary, str(exc)), False
    return NodeAnswer(tuple(keyring.keys), keyring.primary), keyring.keys != before


def encode_answer(a: NodeAnswer) -> bytes:
    return json.dumps({"Keys": list(a.keys), "Primary": a.primary, "Error": a.error}).encode()


def decode_answer(data: bytes) -> NodeAnswer:
    """Raises ValueError for a reply that is not an answer."""
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError("malformed keyring answer")
    keys, primary, error = body.get("Keys", []), body.get("Primary", ""), body.get("Error", "")
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)
            and isinstance(primary, str) and isinstance(error, str)):
        raise ValueError("malformed keyring answer")
    return NodeAnswer(tuple(keys), primary, error)


def tally(wan: bool, datacenter: str, answers: dict[str, NodeAnswer | None]) -> PoolResult:
    """Count the answers of every member asked (None: it did not answer). As in Serf, a member
    reporting an error gets a message and fails the operation, and so does any member that did
    not answer."""
    result = PoolResult(wan, datacenter, len(answers))
    failed = answered = 0
    for node, a in sorted(answers.items()):
        if a is None:
            continue
        answered += 1
        if a.error:
            failed += 1
            result.messages[node] = a.error
            continue
        for k in a.keys:
            result.keys[k] = result.keys.get(k, 0) + 1
        if a.primary:
            result.primary_keys[a.primary] = result.primary_keys.get(a.primary, 0) + 1
    if failed:
        result.error = f"{failed}/{result.num_nodes} nodes reported failure"
    elif answered != result.num_nodes:
        result.error = f"{answered}/{result.num_nodes} nodes reported success"
    return result


def error_text(pools: list[PoolResult]) -> str:
    """Every pool's failure in one go-multierror text ("" when all succeeded), as Consul's
    keyringErrorsOrNil words it."""
    errs: list[str] = []
    for p in pools:
        if p.error:
            errs.append(f"{p.pool_name} error: {p.error}")
            errs.extend(f"{node}: {msg}" for node, msg in sorted(p.messages.items()))
    if not errs:
        return ""
    head = "1 error occurred:" if len(errs) == 1 else f"{len(errs)} errors occurred:"
    return head + "\n\t" + "\n\t".join(f"* {e}" for e in errs) + "\n\n"
