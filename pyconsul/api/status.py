"""/v1/status/*, /v1/operator/raft/*, /v1/snapshot."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from pyconsul import snapshot_archive
from pyconsul.api.app import APIContext, Reply, json_reply
from pyconsul.api.errors import HTTPError
from pyconsul.api.leader_relay import relay_to_leader
from pyconsul.api.params import QueryOptions
from pyconsul.consensus.errors import UnknownPeer


async def leader(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    st = ctx.agent.consensus.leader_status()
    return json_reply(st.leader_addr if st.known_leader else "")


async def peers(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    return json_reply(ctx.agent.consensus.peers())


async def raft_configuration(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    await ctx.read_barrier(q)
    servers = ctx.agent.consensus.configuration()
    return Reply(json_reply({"Servers": servers, "Index": ctx.store.last_index}).body, index=ctx.store.last_index)


async def raft_remove_peer(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    query = req.rel_url.query
    addr, pid = query.get("address", ""), query.get("id", "")
    if not addr and not pid:
        raise HTTPError(400, "Must specify either ?id with the server's ID or ?address with IP:port of peer")
    relayed = await relay_to_leader(ctx, req)
    if relayed is not None:
        return relayed
    try:
        await ctx.agent.consensus.remove_peer(address=addr, node_id=pid)
    except UnknownPeer as exc:  # not a voter: Consul's text, as a server-side error
        raise HTTPError(500, str(exc)) from None
    return Reply(b"", status=200, content_type="text/plain; charset=utf-8")


async def snapshot_save(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    """A snapshot in Consul's archive layout (gzip'd tar of meta.json, state.bin, SHA256SUMS)."""
    await ctx.read_barrier(q)
    idx = ctx.store.last_index  # the capture below is taken now, before anything else applies
    state = await ctx.agent.snapshot_state()
    term = int(ctx.agent.consensus.stats().get("term", "1") or 1)
    meta = {"ID": f"{term}-{idx}-{int(time.time() * 1000)}", "Size": len(state), "Index": idx,
            "Term": term, "Version": 1}
    archive = await asyncio.to_thread(snapshot_archive.build, meta, state)
    return Reply(archive, content_type="application/x-gzip", index=idx)


async def snapshot_restore(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    relayed = await relay_to_leader(ctx, req)
    if relayed is not None:
        return relayed
    data = await req.read()
    try:
        # Inflating and hashing take a while: off the loop, so HTTP, DNS and Raft keep going.
        _, data = await asyncio.to_thread(snapshot_archive.read_verified, data)
    except snapshot_archive.SnapshotError as exc:
        raise HTTPError(400, f"Snapshot restore failed: {exc}") from None
    try:
        await ctx.agent.restore_snapshot(data)
    except ValueError as exc:
        raise HTTPError(400, f"Snapshot restore failed: {exc}") from None
    return Reply(b"", content_type="text/plain; charset=utf-8")
