"""/v1/txn: KV operations applied atomically (Consul's request and error format)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from pyconsul.api.acl_names import require_txn_ops
from pyconsul.api.app import APIContext, Reply, json_reply, loads_body
from pyconsul.api.errors import HTTPError
from pyconsul.api.params import QueryOptions
from pyconsul.api.validate import TXN_KV_KEYS, canon_keys
from pyconsul.fsm import commands as c
from pyconsul.state.kv import MAX_VALUE_SIZE, kv_json

MAX_OPS = 128


def _decode_op(i: int, op: Any) -> dict[str, Any]:
    if not isinstance(op, dict):
        raise HTTPError(400, f"Failed to parse body: operation {i} is not an object")
    op = {("KV" if str(k).lower() == "kv" else k): v for k, v in op.items()}
    if "KV" not in op:
        kinds = ", ".join(op) or "none"
        raise HTTPError(400, f"Failed to parse body: unsupported operation type(s) {kinds}; only KV is supported")
    kv = op["KV"]
    if not isinstance(kv, dict):
        raise HTTPError(400, "Failed to parse body: KV operation must be an object")
    out = canon_keys(kv, TXN_KV_KEYS)
    kv = out
    value = kv.get("Value")
    if value is not None:
        if not isinstance(value, str):
            raise HTTPError(400, "Failed to parse body: Value must be a base64 string")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPError(400, "Failed to parse body: illegal base64 data in Value") from None
        if len(raw) > MAX_VALUE_SIZE:
            raise HTTPError(413, f'Value for key "{kv.get("Key")}" is too large ({len(raw)} > {MAX_VALUE_SIZE} bytes)')
        out["Value"] = raw
    return {"KV": out}


def _result_json(r: dict[str, Any]) -> Any:
    if "KVs" in r:
        return [{"KV": kv_json(x)} for x in r["KVs"]]
    kv = dict(r["KV"])
    if "Value" not in kv:
        kv["Value"] = None
        return [{"KV": {**kv_json(kv)}}]
    return [{"KV": kv_json(kv)}]


MAX_TXN_BODY = 512 * 1024  # Consul's txn_max_req_len


async def txn(ctx: APIContext, req: web.Request, q: QueryOptions) -> Reply:
    raw = await req.read()
    if len(raw) > MAX_TXN_BODY:
        raise HTTPError(413, f"Request body({len(raw)} bytes) too large, max size: {MAX_TXN_BODY} bytes. "
                             "See https://www.consul.io/docs/agent/config/config-files#txn_max_req_len.")
    try:
        body = loads_body(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPError(400, f"Failed to parse body: {exc}") from None
    if not isinstance(body, list):
        raise HTTPError(400, "Failed to parse body: expected a JSON array of operations")
    if len(body) > MAX_OPS:
        raise HTTPError(413, f"Transaction contains too many operations ({len(body)} > {MAX_OPS})")
    ops = [_decode_op(i, op) for i, op in enumerate(body)]
    require_txn_ops(req, ops)
    results, errors = await ctx.write(c.Txn(ops=ops))
    if errors:
        return json_reply({"Results": None, "Errors": errors}, status=409)
    out: list[Any] = []
    for r in results:
        out.extend(_result_json(r))
    return json_reply({"Results": out or None, "Errors": None})
