"""Template functions that read Consul data, bound to one render.

Each call records the dependency it used; when the brain has no data for it yet the call also
records it as missing and returns an empty value, so rendering stays a pure function of the
brain and the template is only written once nothing is missing (consul-template's rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytemplate import dependencies as d
from pytemplate import model
from pytemplate.brain import Brain
from pytemplate.connect_deps import CARoot, HealthConnectQuery, LeafCert, LeafQuery, RootsQuery
from pytemplate.golayout import RFC3339, go_format
from pytemplate.gotmpl.values import ValueError_
from pytemplate.textfuncs import PURE_GO_FUNCS, Scratch


@dataclass
class RenderContext:
    brain: Brain
    env: Mapping[str, str]
    now: float
    used: dict[str, d.Dependency] = field(default_factory=dict)
    missing: dict[str, d.Dependency] = field(default_factory=dict)
    scratch: Scratch = field(default_factory=Scratch)

    def _recall(self, dep: d.Dependency) -> tuple[Any, bool]:
        self.used.setdefault(dep.key, dep)
        value, ok = self.brain.recall(dep)
        if not ok:
            self.missing.setdefault(dep.key, dep)
        return value, ok

    # --- Consul data ------------------------------------------------------------------
    def service(self, *parts: str) -> list[model.HealthService]:
        if not parts or not parts[0]:
            return []
        value, ok = self._recall(d.HealthServiceQuery.parse("|".join(parts)))
        return value if ok else []

    def connect(self, *parts: str) -> list[model.HealthService]:
        if not parts or not parts[0]:
            return []
        value, ok = self._recall(HealthConnectQuery.parse("|".join(parts)))
        return value if ok else []

    def ca_leaf(self, service: str) -> LeafCert | None:
        value, ok = self._recall(LeafQuery(service=service))
        return value if ok else None

    def ca_roots(self) -> list[CARoot]:
        value, ok = self._recall(RootsQuery())
        return value if ok else []

    def catalog_service(self, *parts: str) -> list[model.CatalogService]:
        if not parts or not parts[0]:
            return []
        value, ok = self._recall(d.CatalogServiceQuery.parse("".join(parts)))
        return value if ok else []

    def services(self, *parts: str) -> list[model.CatalogSnippet]:
        value, ok = self._recall(d.CatalogServicesQuery.parse("".join(parts)))
        return value if ok else []

    def key(self, path: str) -> str:
        if not path:
            return ""
        value, ok = self._recall(d.KVGetQuery.parse(path, block=True))
        return value if ok and value is not None else ""

    def key_exists(self, path: str) -> bool:
        if not path:
            return False
        value, ok = self._recall(d.KVGetQuery.parse(path))
        return ok and value is not None

    def key_or_default(self, path: str, default: str) -> str:
        if not path:
            return default
        value, ok = self._recall(d.KVGetQuery.parse(path))
        return value if ok and value else default

    def _list(self, prefix: str, keep: Callable[[model.KeyPair], bool], safe: bool) -> list[model.KeyPair]:
        if not prefix:
            return []
        dep = d.KVListQuery.parse(prefix)
        value, ok = self._recall(dep)
        result = [p for p in value if keep(p)] if ok else []
        if ok and safe and not result:
            # safeLs/safeTree: an empty prefix is treated as not-yet-available.
            self.missing.setdefault(dep.key, dep)
        return result

    def ls(self, prefix: str) -> list[model.KeyPair]:
        return self._list(prefix, lambda p: bool(p.Key) and "/" not in p.Key, False)

    def safe_ls(self, prefix: str) -> list[model.KeyPair]:
        return self._list(prefix, lambda p: bool(p.Key) and "/" not in p.Key, True)

    def tree(self, prefix: str) -> list[model.KeyPair]:
        return self._list(prefix, lambda p: p.Key.split("/")[-1] != "", False)

    def safe_tree(self, prefix: str) -> list[model.KeyPair]:
        return self._list(prefix, lambda p: p.Key.split("/")[-1] != "", True)

    def keys(self, prefix: str) -> list[str]:
        value, ok = self._recall(d.KVKeysQuery.parse(prefix))
        return value if ok else []

    def node(self, *parts: str) -> model.CatalogNode | None:
        value, ok = self._recall(d.CatalogNodeQuery.parse("".join(parts)))
        return value if ok else None

    def nodes(self, *parts: str) -> list[model.Node]:
        value, ok = self._recall(d.CatalogNodesQuery.parse("".join(parts)))
        return value if ok else []

    def datacenters(self, ignore_failing: bool = False) -> list[str]:
        value, ok = self._recall(d.CatalogDatacentersQuery(ignore_failing=bool(ignore_failing)))
        return value if ok else []

    def file(self, path: str) -> str:
        if not path:
            return ""
        value, ok = self._recall(d.FileQuery(path=path.strip()))
        return value if ok and value is not None else ""

    # --- environment and time -----------------------------------------------------------
    def env_get(self, name: str) -> str:
        return self.env.get(name, "")

    def must_env(self, name: str) -> str:
        if name not in self.env:
            raise ValueError_(f"mustEnv: environment variable {name!r} not set")
        return self.env[name]

    def env_or_default(self, name: str, default: str) -> str:
        return self.env.get(name) or default

    def timestamp(self, *layout: str) -> str:
        if len(layout) > 1:
            raise ValueError_(f"timestamp: wrong number of arguments, expected 0 or 1, but got {len(layout)}")
        if layout and layout[0] == "unix":
            return str(int(self.now))
        when = dt.datetime.fromtimestamp(self.now, dt.UTC).astimezone()
        return go_format(when, layout[0] if layout else RFC3339)

    # --- tables -------------------------------------------------------------------------
    def go_funcs(self) -> dict[str, Callable[..., Any]]:
        return {
            **PURE_GO_FUNCS,
            "service": self.service, "catalogService": self.catalog_service, "services": self.services,
            "connect": self.connect, "caLeaf": self.ca_leaf, "caRoots": self.ca_roots,
            "key": self.key, "keyExists": self.key_exists, "keyOrDefault": self.key_or_default,
            "ls": self.ls, "safeLs": self.safe_ls, "tree": self.tree, "safeTree": self.safe_tree,
            "keys": self.keys, "node": self.node, "nodes": self.nodes, "datacenters": self.datacenters,
            "file": self.file, "env": self.env_get, "mustEnv": self.must_env,
            "envOrDefault": self.env_or_default, "timestamp": self.timestamp,
            "scratch": lambda: self.scratch,
        }

    def jinja_globals(self) -> dict[str, Callable[..., Any]]:
        return {
            "service": self.service, "health_service": self.service, "catalog_service": self.catalog_service,
            "services": self.services, "connect": self.connect, "ca_leaf": self.ca_leaf,
            "ca_roots": self.ca_roots, "key": self.key, "key_exists": self.key_exists,
            "key_or_default": self.key_or_default, "ls": self.ls, "safe_ls": self.safe_ls, "tree": self.tree,
            "safe_tree": self.safe_tree, "keys": self.keys, "node": self.node, "nodes": self.nodes,
            "datacenters": self.datacenters, "file": self.file, "env": self.env_get, "must_env": self.must_env,
            "env_or_default": self.env_or_default, "timestamp": self.timestamp,
        }


GO_FUNC_NAMES = frozenset(RenderContext(Brain(), {}, 0.0).go_funcs())
