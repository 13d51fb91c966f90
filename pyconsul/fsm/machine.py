"""The deterministic state machine: applies one committed command to the StateStore.

`apply(index, data)` must give the same store on every replica for the same log, so it reads no
clock or randomness of its own (session lock-delays use the store's injected clock: like Consul,
they are advisory, local to the server that applies them). A refused command (StateError) is a
no-op that returns the error; an undecodable or unknown command raises UnknownCommand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from pyconsul import telemetry
from pyconsul.fsm import commands as c
from pyconsul.gc_tuning import bulk_load, settle_long_lived
from pyconsul.state.agent_ca import AgentCA
from pyconsul.state.errors import StateError
from pyconsul.state.store import StateStore
from pyconsul.telemetry.names import FSM_TIMER


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
        start = telemetry.now()  # timing only: nothing the store keeps depends on it
        try:
            result = self._dispatch(index, cmd)
        except StateError as exc:
            store.txn.abort()  # refused on every replica alike: no index moves, nobody wakes
            result = exc
        finally:
            store.commit(index)
        timer = FSM_TIMER.get(cmd.TYPE)
        if timer is not None:
            telemetry.measure_since(timer[0], start, timer[1])
        return result

    def _dispatch(self, idx: int, cmd: c.Command) -> Any:
        s = self.store
        if isinstance(cmd, c.Register):
            s.catalog.ensure_registration(idx, cmd.node, cmd.service, cmd.checks, cmd.skip_node_update)
            return True
        if isinstance(cmd, c.Deregister):
            if cmd.check_id:
                s.catalog.delete_check(idx, cmd.node, cmd.check_id)
            elif cmd.service_id:
                s.catalog.delete_service(idx, cmd.node, cmd.service_id)
            else:
                s.catalog.delete_node(idx, cmd.node)
            return True
        if isinstance(cmd, c.KVOp):
            return self._kv(idx, cmd)
        if isinstance(cmd, c.Txn):
            return s.kv.transaction(idx, cmd.ops)
        if isinstance(cmd, c.SessionCreate):
            return s.sessions.create(idx, cmd.session)
        if isinstance(cmd, c.SessionDestroy):
            return s.sessions.destroy(idx, cmd.session_id)
        if isinstance(cmd, c.EventFire):
            return s.events.fire(idx, cmd.event)
        if isinstance(cmd, c.TombstoneReap):
            s.kv.reap_tombstones(cmd.index)
            return True
        if isinstance(cmd, c.AutopilotSet):
            return s.autopilot.set(idx, cmd.config, cmd.cas)
        if isinstance(cmd, c.PreparedQuerySet):
            return s.queries.set(idx, cmd.query, cmd.create)
        if isinstance(cmd, c.PreparedQueryDelete):
            return s.queries.delete(idx, cmd.query_id)
        if isinstance(cmd, c.CoordinateBatchUpdate):
            return s.coordinates.batch_update(idx, cmd.updates)
        if isinstance(cmd, c.ConfigEntryOp):
            return self._config_entry(idx, cmd)
        if isinstance(cmd, c.ConnectCAOp):
            return self._connect_ca(idx, cmd)
        if isinstance(cmd, c.Noop):
            return None
        if isinstance(cmd, c.AgentCAInit):
            return s.agent_ca.init(idx, AgentCA(cmd.root_pem, cmd.key_pem, cmd.trust_domain))
        if isinstance(cmd, c.ACL_COMMANDS):
            return self._acl(idx, cmd)
        raise c.UnknownCommand(f"no handler for {type(cmd).__name__}")

    def _acl(self, idx: int, cmd: c.Command) -> Any:
        acl = self.store.acl
        if isinstance(cmd, c.ACLBootstrap):
            return acl.bootstrap(idx, cmd.token, cmd.reset_index)
        if isinstance(cmd, c.ACLTokenSet):
            return acl.set_token(idx, cmd.token)
        if isinstance(cmd, c.ACLTokenDelete):
            return acl.delete_tokens(idx, cmd.accessor_ids)
        if isinstance(cmd, c.ACLPolicySet):
            return acl.set_policy(idx, cmd.policy)
        if isinstance(cmd, c.ACLPolicyDelete):
            return acl.delete_policy(idx, cmd.policy_id)
        if isinstance(cmd, c.ACLRoleSet):
            return acl.set_role(idx, cmd.role)
        if isinstance(cmd, c.ACLRoleDelete):
            return acl.delete_role(idx, cmd.role_id)
        if isinstance(cmd, c.ACLAuthMethodSet):
            return acl.set_auth_method(idx, cmd.method)
        if isinstance(cmd, c.ACLAuthMethodDelete):
            return acl.delete_auth_method(idx, cmd.name)
        if isinstance(cmd, c.ACLBindingRuleSet):
            return acl.set_binding_rule(idx, cmd.rule)
        if isinstance(cmd, c.ACLBindingRuleDelete):
            return acl.delete_binding_rule(idx, cmd.rule_id)
        if isinstance(cmd, c.ACLInitTokens):
            return acl.init_tokens(idx, cmd.tokens, cmd.policies, cmd.mark_bootstrap)
        raise c.UnknownCommand(f"no handler for {type(cmd).__name__}")

    def _config_entry(self, idx: int, op: c.ConfigEntryOp) -> Any:
        table = self.store.config_entries
        entry = op.entry
        if op.verb == "set":
            return table.set(idx, entry)
        if op.verb == "cas":
            return table.cas(idx, entry, op.index)
        if op.verb == "delete":
            return table.delete(idx, str(entry["Kind"]), str(entry["Name"]))
        if op.verb == "delete-cas":
            return table.delete_cas(idx, str(entry["Kind"]), str(entry["Name"]), op.index)
        raise c.UnknownCommand(f"unknown config entry verb {op.verb!r}")

    def _connect_ca(self, idx: int, op: c.ConnectCAOp) -> Any:
        ca = self.store.connect_ca
        if op.verb == "init":
            return ca.initialize(idx, op.config, op.roots)
        if op.verb == "set-roots":
            return ca.set_roots(idx, op.config, op.roots, op.cas)
        if op.verb == "next-serial":
            return ca.next_serial(idx)
        raise c.UnknownCommand(f"unknown connect CA verb {op.verb!r}")

    def _kv(self, idx: int, op: c.KVOp) -> Any:
        kv = self.store.kv
        verb = op.verb
        if verb == "set":
            kv.set(idx, op.key, op.value, op.flags)
            return True
        if verb == "cas":
            return kv.cas(idx, op.key, op.value, op.flags, op.index)
        if verb == "lock":
            return kv.lock(idx, op.key, op.value, op.flags, op.session)
        if verb == "unlock":
            return kv.unlock(idx, op.key, op.value, op.flags, op.session)
        if verb == "delete":
            kv.delete(idx, op.key)
            return True
        if verb == "delete-cas":
            return kv.delete_cas(idx, op.key, op.index)
        if verb == "delete-tree":
            kv.delete_tree(idx, op.key)
            return True
        raise c.UnknownCommand(f"unknown KV verb {verb!r}")

    # Snapshots are msgpack of the store's tables: portable, never pickle.
    def snapshot(self) -> bytes:
        start = telemetry.now()
        data = self.capture()()
        telemetry.measure_since("raft.fsm.snapshot", start)
        return data

    def capture(self) -> Callable[[], bytes]:
        """The store as of now, and a function that serialises it (safe to run in another thread
        while later commands apply)."""
        serialise = None
        for step in self.capture_steps():
            serialise = step
        assert serialise is not None
        return serialise

    def capture_steps(self, every: int = 0) -> Iterator[None | Callable[[], bytes]]:
        """capture() in steps: yields None every `every` rows copied, then the serialiser. The
        caller must apply nothing until the last step (the Raft driver's apply loop runs it).
        The small tables are encoded here; the large ones are copied shallowly (their rows are
        shared: writes replace rows, never change them) and listed and encoded by the serialiser."""
        start = telemetry.now()
        snap: dict[str, Any] | None = None
        for step in self.store.capture(every):
            if step is None:
                yield None
            snap = step
        assert snap is not None
        packer = msgpack.Packer(use_bin_type=True)
        pieces: list[bytes | Callable[[], list[Any]]] = [packer.pack_map_header(len(snap))]
        for key, value in snap.items():
            pieces.append(packer.pack(key))
            pieces.append(value if callable(value) else packer.pack(value))
        telemetry.measure_since("raft.fsm.snapshot.capture", start)
        settle_long_lived()  # the captured rows are the state: keep full collections off them

        def serialise() -> bytes:
            # No metrics or logging in here: it may run in a forked child (pyconsul.fork_encode).
            out = bytearray()
            own = msgpack.Packer(use_bin_type=True)  # a Packer is not shared between threads
            for piece in pieces:
                if isinstance(piece, bytes):
                    out += piece
                    continue
                rows = piece()
                out += own.pack_array_header(len(rows))
                # One row per call: the interpreter can switch to the event loop's thread
                # between calls (one call for a whole table would hold it throughout).
                for row in rows:
                    out += own.pack(row)
            return bytes(out)

        yield serialise

    def restore(self, data: bytes) -> None:
        start = telemetry.now()
        with bulk_load():  # the restored rows are the state: no collections over them
            snap = msgpack.unpackb(data, raw=False, strict_map_key=False)
            self.store.restore(snap)
            del snap
        telemetry.measure_since("raft.fsm.restore", start)
