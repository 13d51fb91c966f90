"""What a server does with the CA: initialise it, change its configuration (rotating the root with
cross-signing), sign a leaf, prune old roots. Certificates are built here with the pure code of
`connect.ca` and only finished rows go through Raft (`ConnectCAOp`), so every replica applies the
same bytes.

Callers pass a `Writer` (the agent's `write`, or the API context's) and the store; nothing here
reads a clock of its own: `now` comes from the caller's Clock.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pyconsul.clock import Clock
from pyconsul.connect import ca, spiffe
from pyconsul.fsm import commands as c
from pyconsul.state.store import StateStore

Row = dict[str, Any]
Writer = Callable[[c.Command], Awaitable[Any]]


class CANotReady(Exception):
    """The CA has no root yet (the leader has not initialised it)."""


def _now(clock: Clock) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(clock.time(), datetime.UTC)


async def _serial(write: Writer) -> int:
    return int(await write(c.ConnectCAOp(verb="next-serial")))


def _config_row(cluster_id: str, config: Row, force: bool = False) -> Row:
    return {"Provider": "consul", "ClusterID": cluster_id, "Config": config, "ForceWithoutCrossSigning": force}


async def initialize(write: Writer, store: StateStore, clock: Clock, file_config: Any = None) -> bool:
    """First leadership: a cluster ID and a root, unless the CA already has them."""
    if store.connect_ca.config is not None:
        return False
    config = ca.config_from_file(file_config)
    ttls = ca.parse_config(config, strict=False)
    cluster_id = str(uuid.uuid4())
    serial = await _serial(write)
    material = ca.new_root(cluster_id, serial, _now(clock), ttls)
    root = ca.root_row(material, cluster_id, active=True)
    return bool(await write(c.ConnectCAOp(verb="init", config=_config_row(cluster_id, config), roots=[root])))


def public_config(row: Row) -> Row:
    """GET /v1/connect/ca/configuration's shape."""
    return {
        "Provider": row.get("Provider", "consul"),
        "Config": {k: v for k, v in (row.get("Config") or {}).items() if k not in ("PrivateKey", "RootCert")},
        "State": None,
        "ForceWithoutCrossSigning": bool(row.get("ForceWithoutCrossSigning")),
        "CreateIndex": row.get("CreateIndex", 0),
        "ModifyIndex": row.get("ModifyIndex", 0),
    }


def _ttl_changes_only(old: Row, new: Row) -> bool:
    keys = ("PrivateKey", "RootCert", "PrivateKeyType", "PrivateKeyBits")
    return all(old.get(k) == new.get(k) for k in keys) and not new.get("RotateRoot")


async def set_config(write: Writer, store: StateStore, clock: Clock, body: Row) -> None:
    """PUT /v1/connect/ca/configuration: validate, then store the new config — with a new root
    (cross-signed by the old one) when the key material changes or `RotateRoot` asks for it."""
    provider = body.get("Provider") or "consul"
    if provider != "consul":
        raise ca.CAError(f"unknown CA provider {provider!r}")
    current = store.connect_ca.config
    if current is None:
        raise CANotReady("CA has not finished initializing")
    config = {**ca.DEFAULT_CONFIG, **dict(body.get("Config") or {})}
    ttls = ca.parse_config(config)
    force = bool(body.get("ForceWithoutCrossSigning"))
    cluster_id = str(current["ClusterID"])
    roots_index, roots = store.connect_ca.get_roots(None)
    if _ttl_changes_only(current.get("Config") or {}, config):
        ok = await write(c.ConnectCAOp(verb="set-roots", config=_config_row(cluster_id, config, force),
                                       roots=list(roots), cas=roots_index))
    else:
        config.pop("RotateRoot", None)
        now = _now(clock)
        old = store.connect_ca.active_root()
        serial = await _serial(write)
        if config.get("PrivateKey") and config.get("RootCert"):
            material = ca.RootMaterial(str(config["RootCert"]), str(config["PrivateKey"]))
        else:
            material = ca.new_root(cluster_id, serial, now, ttls)
        intermediates = None
        if old is not None and not force:
            cross = ca.cross_sign(material.cert, old["RootCert"], old["SigningKey"], cluster_id,
                                  await _serial(write), now, ttls)
            intermediates = [cross]
        new_root = ca.root_row(material, cluster_id, active=True, intermediates=intermediates)
        kept = [{**r, "Active": False} for r in roots if r["ID"] != new_root["ID"]]
        if old is not None:
            rotated_out = ca.rfc3339(now)
            kept = [{**r, "RotatedOutAt": r.get("RotatedOutAt") or rotated_out} for r in kept]
        ok = await write(c.ConnectCAOp(verb="set-roots", config=_config_row(cluster_id, config, force),
                                       roots=[*kept, new_root], cas=roots_index))
    if not ok:
        raise ca.CAError("the CA roots changed while the configuration was applied; try again")


def roots_reply(store: StateStore, roots: list[Row]) -> Row:
    config = store.connect_ca.config or {}
    active = next((r["ID"] for r in roots if r.get("Active")), "")
    return {
        "ActiveRootID": active,
        "TrustDomain": spiffe.trust_domain(str(config["ClusterID"])) if config.get("ClusterID") else "",
        "Roots": [ca.public_root(r) for r in roots],
    }


def roots_pem(roots: list[Row]) -> str:
    out = []
    for r in roots:
        out.append(r["RootCert"])
        out.extend(r.get("IntermediateCerts") or [])
    return "".join(p if p.endswith("\n") else p + "\n" for p in out)


def leaf_ttl(store: StateStore) -> float:
    return leaf_ttl_of(store.connect_ca.config or {})


def leaf_ttl_of(config_row: Row) -> float:
    """LeafCertTTL in seconds from the CA's stored configuration row."""
    return ca.parse_config({**ca.DEFAULT_CONFIG, **(config_row.get("Config") or {})}, strict=False).leaf_ttl


async def sign(write: Writer, store: StateStore, clock: Clock, csr_pem: str, datacenter: str) -> Row:
    """ConnectCA.Sign: the leaf reply for a service CSR (CertPEM carries the intermediates)."""
    root = store.connect_ca.active_root()
    if root is None:
        raise CANotReady("CA has not finished initializing")
    uri = ca.csr_uri(csr_pem)
    ident = spiffe.parse(uri)
    if not isinstance(ident, spiffe.ServiceID):
        raise ca.CAError("SPIFFE ID in CSR must be a service ID")
    if ident.datacenter != datacenter:
        raise ca.CAError(f"SPIFFE ID in CSR from a different datacenter: {ident.datacenter}, we are {datacenter}")
    serial = await _serial(write)
    index = store.max_index("connect-ca-serial")
    pem = ca.sign_leaf(csr_pem, root, serial, _now(clock), leaf_ttl(store))
    cert = ca.load_cert(pem)
    chain = pem + "".join(chain_after_leaf(root))
    return {
        "SerialNumber": ca.serial_hex(serial),
        "CertPEM": chain,
        "Service": ident.service,
        "ServiceURI": uri,
        "ValidAfter": ca.rfc3339(cert.not_valid_before_utc),
        "ValidBefore": ca.rfc3339(cert.not_valid_after_utc),
        "RootID": root["ID"],
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def chain_after_leaf(root: Row) -> list[str]:
    """The certificates a leaf's CertPEM carries after the leaf, in path order: this datacenter's
    intermediate first (a secondary's), then the root's other intermediates (a cross-signed
    root, for peers that still trust only the old root)."""
    signing = root.get("SigningCert")
    rest = [p for p in (root.get("IntermediateCerts") or []) if p != signing]
    return [signing, *rest] if signing else rest


async def prune(write: Writer, store: StateStore, clock: Clock) -> bool:
    """Drop roots rotated out more than 2 × LeafCertTTL ago (no leaf they signed is still valid)."""
    roots_index, roots = store.connect_ca.get_roots(None)
    config = store.connect_ca.config
    if config is None:
        return False
    limit = 2 * leaf_ttl(store)
    now = clock.time()
    keep = []
    for r in roots:
        out_at = r.get("RotatedOutAt")
        if not r.get("Active") and out_at:
            gone = datetime.datetime.strptime(out_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
            if now - gone.timestamp() > limit:
                continue
        keep.append(r)
    if len(keep) == len(roots):
        return False
    return bool(await write(c.ConnectCAOp(verb="set-roots", config={k: v for k, v in config.items()
                                                                    if k not in ("CreateIndex", "ModifyIndex")},
                                          roots=keep, cas=roots_index)))


# -- several datacenters ---------------------------------------------------------------------------
# (method, path with query, body) → (status, X-Consul-Index, body) from the primary datacenter.
Fetch = Callable[[str, str, bytes | None], Awaitable[tuple[int, int, bytes]]]
SIGN_INTERMEDIATE = "/v1/internal/connect/ca/sign-intermediate"


async def sign_intermediate(write: Writer, store: StateStore, clock: Clock, csr_pem: str) -> Row:
    """ConnectCA.SignIntermediate in the primary: a secondary's intermediate, issued by the active root."""
    root = store.connect_ca.active_root()
    if root is None or store.connect_ca.config is None or root.get("SigningCert"):
        raise CANotReady("CA has not finished initializing")
    ttls = ca.parse_config({**ca.DEFAULT_CONFIG, **(store.connect_ca.config.get("Config") or {})}, strict=False)
    pem = ca.sign_intermediate(csr_pem, root, await _serial(write), _now(clock), ttls)
    return {"IntermediatePEM": pem, "RootID": root["ID"]}


def secondary_roots(remote: list[Row], active_id: str, signing_cert: str, signing_key: str) -> list[Row]:
    """A secondary's root rows: the primary's roots, the active one carrying this datacenter's
    intermediate (appended to its IntermediateCerts, as Consul does) and the key it signs with."""
    ski = ca.subject_key_id(signing_cert)
    rows = []
    for r in remote:
        row = {k: v for k, v in r.items() if k not in ("CreateIndex", "ModifyIndex")}
        if row["ID"] == active_id:
            row["IntermediateCerts"] = [*(row.get("IntermediateCerts") or []), signing_cert]
            row.update(SigningCert=signing_cert, SigningKey=signing_key, SigningKeyID=ca.colon_hex(ski))
        rows.append(row)
    return rows


def _same_rows(a: list[Row], b: list[Row]) -> bool:
    def strip(rows: list[Row]) -> list[Row]:
        return [{k: v for k, v in r.items() if k not in ("CreateIndex", "ModifyIndex")} for r in rows]
    return strip(a) == strip(b)


def _past_half_life(pem: str, now: float) -> bool:
    """Consul renews a secondary's intermediate halfway through its lifetime."""
    cert = ca.load_cert(pem)
    start, end = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
    return now >= start + (end - start) / 2


async def sync_secondary(write: Writer, store: StateStore, fetch: Fetch, datacenter: str,
                         file_config: Any = None, now: float = 0.0, index: int = 0, wait: str = "10s"
                         ) -> tuple[bool, int]:
    """One pass of a secondary's CA (Consul's secondary CAManager): follow the primary's roots;
    when its active root is new to us (or our intermediate is past half its life), make a key,
    have the primary sign an intermediate for it, and store both. With `index`, the primary's
    roots are read with a blocking query (a rotation there is seen at once). (whether the stored
    roots changed, the primary's roots index)."""
    path = f"/v1/connect/ca/roots?stale&index={index}&wait={wait}" if index else "/v1/connect/ca/roots?stale"
    status, remote_index, body = await fetch("GET", path, None)
    if status != 200:
        raise CANotReady(f"primary datacenter roots unavailable: {status} {body.decode(errors='replace').strip()}")
    reply = json.loads(body)
    active_id = str(reply.get("ActiveRootID") or "")
    remote = list(reply.get("Roots") or [])
    active = next((r for r in remote if r.get("ID") == active_id), None)
    if active is None:
        raise CANotReady("the primary datacenter's CA has not finished initializing")
    cluster_id = str(active["ExternalTrustDomain"])
    local = store.connect_ca.active_root()
    if (local is not None and local["ID"] == active_id and local.get("SigningCert")
            and not (now and _past_half_life(str(local["SigningCert"]), now))):
        signing_cert, signing_key = str(local["SigningCert"]), str(local["SigningKey"])
    else:
        signing_key, csr = ca.intermediate_csr(cluster_id, datacenter)
        status, _, body = await fetch("POST", SIGN_INTERMEDIATE, json.dumps({"CSR": csr}).encode())
        if status != 200:
            raise ca.CAError(f"the primary datacenter refused to sign an intermediate: {status} "
                             f"{body.decode(errors='replace').strip()}")
        signed = json.loads(body)
        if signed.get("RootID") != active_id:
            raise CANotReady("the primary datacenter's root changed while signing; trying again")
        signing_cert = str(signed["IntermediatePEM"])
    rows = secondary_roots(remote, active_id, signing_cert, signing_key)
    roots_index, current = store.connect_ca.get_roots(None)
    config = store.connect_ca.config
    if config is None:
        row = _config_row(cluster_id, ca.config_from_file(file_config))
        return bool(await write(c.ConnectCAOp(verb="init", config=row, roots=rows))), remote_index
    if _same_rows(current, rows) and config.get("ClusterID") == cluster_id:
        return False, remote_index
    row = {k: v for k, v in config.items() if k not in ("CreateIndex", "ModifyIndex")}
    row["ClusterID"] = cluster_id
    written = await write(c.ConnectCAOp(verb="set-roots", config=row, roots=rows, cas=roots_index))
    return bool(written), remote_index
