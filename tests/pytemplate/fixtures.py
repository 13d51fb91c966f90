"""A brain full of realistic Consul data for template tests (no agent needed)."""

from __future__ import annotations

from pytemplate import dependencies as d
from pytemplate import model
from pytemplate.brain import Brain

NOW = 1_700_000_000.25  # 2023-11-14T22:13:20.25Z
ENV = {"DEPLOY_ENV": "staging", "EMPTY": ""}


def _hs(node: str, addr: str, sid: str, port: int, tags: list[str], meta: dict[str, str] | None = None,
        status: str = "passing") -> model.HealthService:
    return model.HealthService(
        Node=node, NodeID=f"id-{node}", NodeAddress=addr, NodeDatacenter="dc1", Address=addr, ID=sid,
        Name=sid.split("-")[0], Tags=sorted(tags), ServiceMeta=meta or {}, Status=status, Port=port,
        Checks=[model.HealthCheck(Node=node, CheckID="serfHealth", Name="Serf Health Status", Status="passing")],
    )


def _pair(prefix: str, path: str, value: str) -> model.KeyPair:
    return model.KeyPair(Path=path, Key=path[len(prefix):].lstrip("/"), Value=value, CreateIndex=5, ModifyIndex=7)


def sample_brain() -> Brain:
    b = Brain()
    b.remember(d.HealthServiceQuery.parse("nginx"), [
        _hs("node-a", "10.0.0.1", "nginx-1", 8080, ["web", "v1"], {"weight": "3"}),
        _hs("node-a", "10.0.0.1", "nginx-2", 8081, ["web"]),
        _hs("node-b", "10.0.0.2", "nginx-3", 80, ["web", "canary"]),
    ])
    b.remember(d.HealthServiceQuery.parse("web.nginx"), [
        _hs("node-a", "10.0.0.1", "nginx-1", 8080, ["web", "v1"]),
    ])
    b.remember(d.HealthServiceQuery.parse("empty"), [])
    b.remember(d.HealthServiceQuery.parse("redis|any"), [
        _hs("node-b", "10.0.0.2", "redis-1", 6379, ["primary"], status="passing"),
        _hs("node-c", "10.0.0.3", "redis-2", 6379, ["replica"], status="critical"),
    ])
    b.remember(d.CatalogServicesQuery.parse(""), [
        model.CatalogSnippet("consul", []), model.CatalogSnippet("nginx", ["canary", "v1", "web"]),
        model.CatalogSnippet("redis", ["primary", "replica"]),
    ])
    b.remember(d.KVGetQuery.parse("config/maxconn", block=True), "512")
    b.remember(d.KVGetQuery.parse("config/maxconn"), "512")
    b.remember(d.KVGetQuery.parse("config/missing"), None)
    b.remember(d.KVGetQuery.parse("config/empty"), "")
    b.remember(d.KVGetQuery.parse("config/json", block=True), '{"name":"app","ports":[80,443],"tls":true}')
    b.remember(d.KVGetQuery.parse("config/csv", block=True), "a, b,c")
    b.remember(d.KVListQuery.parse("app"), [
        _pair("app", "app/", ""), _pair("app", "app/db/host", "db.local"), _pair("app", "app/db/port", "5432"),
        _pair("app", "app/name", "shop"), _pair("app", "app/workers", "4"),
    ])
    b.remember(d.CatalogNodesQuery.parse(""), [
        model.Node(ID="id-node-a", Node="node-a", Address="10.0.0.1", Datacenter="dc1"),
        model.Node(ID="id-node-b", Node="node-b", Address="10.0.0.2", Datacenter="dc1", Meta={"rack": "r2"}),
    ])
    b.remember(d.CatalogNodeQuery.parse("node-b"), model.CatalogNode(
        Node=model.Node(ID="id-node-b", Node="node-b", Address="10.0.0.2", Datacenter="dc1", Meta={"rack": "r2"}),
        Services=[model.CatalogNodeService(ID="nginx-3", Service="nginx", Tags=["canary", "web"], Port=80),
                  model.CatalogNodeService(ID="redis-1", Service="redis", Tags=["primary"], Port=6379)],
    ))
    b.remember(d.CatalogDatacentersQuery(), ["dc1", "dc2"])
    return b
