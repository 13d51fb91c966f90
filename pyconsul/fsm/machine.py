"""The deterministic state machine: applies one committed command to the StateStore.

`apply(index, data)` must give the same store on every replica for the same log, so it reads no
clock or randomness of its own (session lock-delays use the store's injected clock: like Consul,
they are advisory, local to the server that applies them). A refused command (StateError) is a
no-op that returns the error; an undecodable or unknown command raises UnknownCommand.
"""

from __future__ import annotations

from typing import Any

import msgpack

from pyconsul.fsm import commands as c
from pyconsul.state.errors import StateError
from pyconsul.state.store import StateStore


class StateMachine:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    @property
    def last_applied(self) -> int:
        return self.store.last_index

    def apply(self, index: int, data: bytes) -> Any:
        cmd = c.decode(data)
        return self.apply_command(index, cmd)

    def apply_command(self, index: int, cmd: c.Command) -> Any:
        store = self.store
        try:
            result = self._dispatch(index, cmd)
        except StateError as exc:
            store._pending.clear()
            result = exc
        finally:
            store.finish(index)
        return result

    def _dispatch(self, idx: int, cmd: c.Command) -> Any:
        s = self.store
        if isinstance(cmd, c.Register):
            s.ensure_registration(idx, cmd.node, cmd.service, cmd.checks, cmd.skip_node_update)
            return True
        if isinstance(cmd, c.Deregister):
            if cmd.check_id:
                s.delete_check(idx, cmd.node, cmd.check_id)
            elif cmd.service_id:
                s.delete_service(idx, cmd.node, cmd.service_id)
            else:
                s.delete_node(idx, cmd.node)
            return True
        if isinstance(cmd, c.KVOp):
            return self._kv(idx, cmd)
        if isinstance(cmd, c.Txn):
            return s.kv_txn(idx, cmd.ops)
        if isinstance(cmd, c.SessionCreate):
            return s.session_create(idx, cmd.session)
        if isinstance(cmd, c.SessionDestroy):
            return s.session_destroy(idx, cmd.session_id)
        if isinstance(cmd, c.EventFire):
            return s.event_fire(idx, cmd.event)
        if isinstance(cmd, c.TombstoneReap):
            s.reap_tombstones(cmd.index)
            return True
        if isinstance(cmd, c.Noop):
            return None
        raise c.UnknownCommand(f"no handler for {type(cmd).__name__}")

    def _kv(self, idx: int, op: c.KVOp) -> Any:
        s = self.store
        verb = op.verb
        if verb == "set":
            s.kv_set(idx, op.key, op.value, op.flags)
            return True
        if verb == "cas":
            return s.kv_cas(idx, op.key, op.value, op.flags, op.index)
        if verb == "lock":
            return s.kv_lock(idx, op.key, op.value, op.flags, op.session)
        if verb == "unlock":
            return s.kv_unlock(idx, op.key, op.value, op.flags, op.session)
        if verb == "delete":
            s.kv_delete(idx, op.key)
            return True
        if verb == "delete-cas":
            return s.kv_delete_cas(idx, op.key, op.index)
        if verb == "delete-tree":
            s.kv_delete_tree(idx, op.key)
            return True
        raise c.UnknownCommand(f"unknown KV verb {verb!r}")

    # Snapshots are msgpack of the store's tables: portable, never pickle.
    def snapshot(self) -> bytes:
        return msgpack.packb(self.store.snapshot(), use_bin_type=True)

    def restore(self, data: bytes) -> None:
        snap = msgpack.unpackb(data, raw=False, strict_map_key=False)
        self.store.restore(snap)
