"""Which Consul timer measures each FSM command: at the endpoint that proposes it (on the
server handling the write) and in the FSM that applies it (on every server)."""

from __future__ import annotations

from pyconsul.telemetry.registry import Labels

ENDPOINT_TIMER: dict[str, str] = {
    "register": "catalog.register",
    "deregister": "catalog.deregister",
    "kv": "kvs.apply",
    "txn": "txn.apply",
    "session-create": "session.apply",
    "session-destroy": "session.apply",
    "autopilot-set": "autopilot.apply",
    "query-set": "prepared-query.apply",
    "query-delete": "prepared-query.apply",
    # Consul >= 1.11 times each ACL write by what it changes; the legacy `acl.apply` (which
    # Consul's published server dashboard still charts) went with the legacy ACL API.
    "acl-token-set": "acl.token.upsert",
    "acl-token-delete": "acl.token.delete",
    "acl-policy-set": "acl.policy.upsert",
    "acl-policy-delete": "acl.policy.delete",
    "acl-role-set": "acl.role.upsert",
    "acl-role-delete": "acl.role.delete",
}

FSM_TIMER: dict[str, tuple[str, Labels]] = {
    "register": ("fsm.register", ()),
    "deregister": ("fsm.deregister", ()),
    "kv": ("fsm.kvs", ()),
    "txn": ("fsm.txn", ()),
    "session-create": ("fsm.session", (("op", "create"),)),
    "session-destroy": ("fsm.session", (("op", "destroy"),)),
    "event": ("fsm.event", ()),
    "tombstone-reap": ("fsm.tombstone", (("op", "reap"),)),
    "autopilot-set": ("fsm.autopilot", ()),
    "query-set": ("fsm.prepared-query", (("op", "set"),)),
    "query-delete": ("fsm.prepared-query", (("op", "delete"),)),
    "coordinate-update": ("fsm.coordinate.batch-update", ()),
    "acl-bootstrap": ("fsm.acl.bootstrap", ()),
    "acl-token-set": ("fsm.acl.token", (("op", "upsert"),)),
    "acl-token-delete": ("fsm.acl.token", (("op", "delete"),)),
    "acl-policy-set": ("fsm.acl.policy", (("op", "upsert"),)),
    "acl-policy-delete": ("fsm.acl.policy", (("op", "delete"),)),
    "acl-role-set": ("fsm.acl.role", (("op", "upsert"),)),
    "acl-role-delete": ("fsm.acl.role", (("op", "delete"),)),
}

SERF_MEMBER_COUNTER: dict[str, str] = {
    "member-join": "serf.member.join",
    "member-leave": "serf.member.left",
    "member-failed": "serf.member.failed",
    "member-update": "serf.member.update",
    "member-reap": "serf.member.reap",
}

# Declared up front, as Consul's definitions are, so a dashboard sees them at 0 before the
# first event (Prometheus keeps them whatever the retention).
COUNTERS = (
    "raft.apply", "raft.state.leader", "raft.state.candidate", "rpc.request", "rpc.query",
    "rpc.request_error", "dns.stale_queries", "serf.member.join", "serf.member.left",
    "serf.member.failed", "serf.member.flap", "serf.member.update", "acl.token.cache_hit",
    "acl.token.cache_miss",
)
SUMMARIES = (
    "raft.commitTime", "raft.leader.lastContact", "raft.replication.appendEntries.rpc",
    "raft.snapshot.create", "raft.snapshot.persist", "raft.fsm.snapshot", "raft.fsm.restore",
    "catalog.register", "catalog.deregister", "kvs.apply", "txn.apply", "dns.domain_query",
    "dns.ptr_query", "serf.queue.Event", "serf.queue.Query", "serf.queue.Intent",
    "memberlist.gossip", "memberlist.probeNode", "acl.ResolveToken", "acl.token.upsert",
    "acl.token.delete", "acl.policy.upsert", "acl.policy.delete", "acl.role.upsert",
    "acl.role.delete", "prepared-query.apply",
)


def http_path_label(pattern: str) -> str:
    """Consul's `path` label: the route pattern without its leading `/`, `/` as `_`
    (`/v1/kv/{key}` → `v1_kv_`), so a label never carries a key or service name."""
    static = pattern.split("{", 1)[0]
    return static.lstrip("/").replace("/", "_")
