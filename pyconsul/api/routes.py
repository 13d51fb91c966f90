"""The whole HTTP route table in one place: (method, path, handler)."""

from __future__ import annotations

from pyconsul.api import (
    acl_ep,
    agent_extras,
    auto_encrypt,
    catalog,
    coordinate,
    debug_ep,
    event,
    health,
    keyring,
    kv,
    operator,
    query,
    session,
    status,
    txn,
)
from pyconsul.api import agent_ep as agent
from pyconsul.api.app import Handler
from pyconsul.ui import internal_api as ui

ROUTES: list[tuple[str, str, Handler]] = [
    # status
    ("GET", "/v1/status/leader", status.leader),
    ("GET", "/v1/status/peers", status.peers),
    # catalog
    ("PUT", "/v1/catalog/register", catalog.register),
    ("PUT", "/v1/catalog/deregister", catalog.deregister),
    ("GET", "/v1/catalog/datacenters", catalog.datacenters),
    ("GET", "/v1/catalog/nodes", catalog.nodes),
    ("GET", "/v1/catalog/services", catalog.services),
    ("GET", "/v1/catalog/service/{service}", catalog.service),
    ("GET", "/v1/catalog/node/{node}", catalog.node),
    ("GET", "/v1/catalog/node-services/{node}", catalog.node_services),
    # health
    ("GET", "/v1/health/node/{node}", health.node),
    ("GET", "/v1/health/checks/{service}", health.service_checks),
    ("GET", "/v1/health/service/{service}", health.service),
    ("GET", "/v1/health/state/{state}", health.state),
    # agent
    ("GET", "/v1/agent/self", agent.self_),
    ("GET", "/v1/agent/members", agent.members),
    ("GET", "/v1/agent/host", agent.host),
    ("GET", "/v1/agent/metrics", agent.metrics),
    # profiles (enable_debug, or operator:read with ACLs on)
    ("GET", "/debug/pprof/profile", debug_ep.profile),
    ("GET", "/debug/pprof/goroutine", debug_ep.goroutine),
    ("GET", "/debug/pprof/heap", debug_ep.heap),
    ("GET", "/v1/agent/monitor", agent.monitor),
    ("GET", "/v1/agent/services", agent.services),
    ("GET", "/v1/agent/service/{id}", agent.service),
    ("GET", "/v1/agent/checks", agent.checks),
    ("PUT", "/v1/agent/service/register", agent.service_register),
    ("PUT", "/v1/agent/service/deregister/{id}", agent.service_deregister),
    ("PUT", "/v1/agent/service/maintenance/{id}", agent.service_maintenance),
    ("PUT", "/v1/agent/check/register", agent.check_register),
    ("PUT", "/v1/agent/check/deregister/{id}", agent.check_deregister),
    ("PUT", "/v1/agent/check/pass/{id}", agent.check_pass),
    ("PUT", "/v1/agent/check/warn/{id}", agent.check_warn),
    ("PUT", "/v1/agent/check/fail/{id}", agent.check_fail),
    ("PUT", "/v1/agent/check/update/{id}", agent.check_update),
    ("PUT", "/v1/agent/maintenance", agent.maintenance),
    ("PUT", "/v1/agent/reload", agent.reload),
    ("PUT", "/v1/agent/leave", agent.leave),
    ("PUT", "/v1/agent/join/{address}", agent.join),
    ("PUT", "/v1/agent/force-leave/{node}", agent.force_leave),
    ("PUT", "/v1/agent/token/{type}", agent_extras.token),
    ("GET", "/v1/agent/version", agent_extras.version),
    ("GET", "/v1/agent/health/service/id/{id}", agent_extras.health_by_id),
    ("GET", "/v1/agent/health/service/name/{name}", agent_extras.health_by_name),
    # kv
    ("GET", "/v1/kv/{key:.*}", kv.get),
    ("PUT", "/v1/kv/{key:.*}", kv.put),
    ("DELETE", "/v1/kv/{key:.*}", kv.delete),
    # session
    ("PUT", "/v1/session/create", session.create),
    ("PUT", "/v1/session/destroy/{id}", session.destroy),
    ("PUT", "/v1/session/renew/{id}", session.renew),
    ("GET", "/v1/session/info/{id}", session.info),
    ("GET", "/v1/session/node/{node}", session.node),
    ("GET", "/v1/session/list", session.list_),
    # events and transactions
    ("PUT", "/v1/event/fire/{name}", event.fire),
    ("GET", "/v1/event/list", event.list_),
    ("PUT", "/v1/txn", txn.txn),
    # operator, snapshot, coordinates
    ("GET", "/v1/operator/raft/configuration", status.raft_configuration),
    ("DELETE", "/v1/operator/raft/peer", status.raft_remove_peer),
    ("POST", "/v1/operator/raft/transfer-leader", operator.raft_transfer_leader),
    ("GET", "/v1/operator/autopilot/configuration", operator.autopilot_get),
    ("PUT", "/v1/operator/autopilot/configuration", operator.autopilot_set),
    ("GET", "/v1/operator/autopilot/health", operator.autopilot_health),
    ("GET", "/v1/operator/autopilot/state", operator.autopilot_state),
    ("GET", "/v1/operator/usage", operator.usage),
    ("GET", "/v1/operator/keyring", keyring.keyring),
    ("POST", "/v1/operator/keyring", keyring.keyring),
    ("PUT", "/v1/operator/keyring", keyring.keyring),
    ("DELETE", "/v1/operator/keyring", keyring.keyring),
    ("GET", "/v1/snapshot", status.snapshot_save),
    ("PUT", "/v1/snapshot", status.snapshot_restore),
    ("GET", "/v1/coordinate/datacenters", coordinate.datacenters),
    ("GET", "/v1/coordinate/nodes", coordinate.nodes),
    ("GET", "/v1/coordinate/node/{node}", coordinate.node),
    ("PUT", "/v1/coordinate/update", coordinate.update),
    # prepared queries
    ("GET", "/v1/query", query.list_),
    ("POST", "/v1/query", query.create),
    ("GET", "/v1/query/{id}", query.get),
    ("PUT", "/v1/query/{id}", query.update),
    ("DELETE", "/v1/query/{id}", query.delete),
    ("GET", "/v1/query/{id}/execute", query.execute),
    ("GET", "/v1/query/{id}/explain", query.explain),
    # the web UI's summaries
    ("GET", "/v1/internal/ui/services", ui.services),
    ("GET", "/v1/internal/ui/nodes", ui.nodes),
    ("GET", "/v1/internal/ui/node/{node}", ui.node),
    ("POST", auto_encrypt.SIGN_PATH, auto_encrypt.sign),  # server port only
    # ACL endpoints (401 while ACLs are off); each checks its own need
    *[(method, "/v1/acl/{path:.*}", acl_ep.dispatch) for method in ("GET", "PUT", "POST", "DELETE")],
]
