"""Jepsen-style: concurrent KV writes, reads and check-and-sets against a real 3-server cluster
while a nemesis kills (-9) and restarts servers and cuts them off with iptables, round after
round. Afterwards every key's recorded history must be linearizable (a lost acknowledged write
or a stale consistent read would make it not), checked with tests/raft/linearizability.py.

RAFT_NEMESIS_ROUNDS sets the number of nemesis rounds (default 50).
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.raft.linearizability import CAS, READ, WRITE, Op, check
from tests.raft.procs import HOSTS, Cluster
from tests.support.wait import wait_until

KEYS = [f"lin/k{i}" for i in range(6)]
ROUNDS = int(os.environ.get("RAFT_NEMESIS_ROUNDS", "50"))


class Client(threading.Thread):
    def __init__(self, cluster: Cluster, n: int, stop: threading.Event, seed: int) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.n = n
        self.stop_flag = stop
        self.rng = random.Random(seed)
        self.history: dict[str, list[Op]] = {k: [] for k in KEYS}
        self.last_read: dict[str, tuple[str | None, int]] = {}
        self.counter = 0
        self.acked_writes = 0

    def _req(self, host: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        port = self.cluster.http_ports[host]
        req = urllib.request.Request(f"http://{host}:{port}{path}", data=body, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def read(self, host: str, key: str) -> tuple[bool, str | None, int]:
        status, body = self._req(host, "GET", f"/v1/kv/{key}?consistent")
        if status == 404:
            return True, None, 0
        if status != 200:
            return False, None, 0
        row = json.loads(body)[0]
        return True, base64.b64decode(row["Value"]).decode(), int(row["ModifyIndex"])

    def one_op(self) -> None:
        host = self.rng.choice(HOSTS)
        key = self.rng.choice(KEYS)
        kind = self.rng.choice([READ, READ, WRITE, CAS, CAS])
        if kind == CAS and key not in self.last_read:
            kind = READ
        self.counter += 1
        value = f"c{self.n}-{self.counter}"
        start = time.monotonic()
        try:
            if kind == READ:
                ok, v, idx = self.read(host, key)
                if ok:
                    self.last_read[key] = (v, idx)
                    self.history[key].append(Op(start, time.monotonic(), READ, out=v))
                return  # a failed read has no effect: leave it out
            if kind == WRITE:
                status, body = self._req(host, "PUT", f"/v1/kv/{key}", value.encode())
                known = status == 200
                if known:
                    self.acked_writes += 1
                self.history[key].append(Op(start, time.monotonic() if known else math.inf, WRITE, value))
                return
            expected, idx = self.last_read[key]
            status, body = self._req(host, "PUT", f"/v1/kv/{key}?cas={idx}", value.encode())
            known = status == 200
            out = body.strip() == b"true"
            self.history[key].append(
                Op(start, time.monotonic() if known else math.inf, CAS, (expected, value), out)
            )
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                time.sleep(0.05)  # the server is down: the request never reached anyone
                return
            if kind != READ:  # the request may or may not have reached a server
                arg = value if kind == WRITE else (self.last_read[key][0], value)
                self.history[key].append(Op(start, math.inf, kind, arg, False))
        except OSError:
            if kind != READ:  # the request may or may not have reached a server
                arg = value if kind == WRITE else (self.last_read[key][0], value)
                self.history[key].append(Op(start, math.inf, kind, arg, False))

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.one_op()
            time.sleep(self.rng.random() * 0.02)


@pytest.mark.slow
@pytest.mark.skipif(not Cluster.iptables_usable(), reason="needs iptables (root)")
def test_history_under_kills_and_partitions_is_linearizable(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("RAFT_NEMESIS_SEED", "7")))
    cluster = Cluster(tmp_path, extra=("-log-level", "warn"))
    stop = threading.Event()
    clients: list[Client] = []
    actions: list[str] = []
    try:
        cluster.start_all()
        wait_until(cluster.leader, 20, what="a leader")
        clients = [Client(cluster, i, stop, rng.randrange(1 << 30)) for i in range(4)]
        for c in clients:
            c.start()
        for _ in range(ROUNDS):
            victim = rng.choice(HOSTS)
            action = rng.choice(["kill", "cut", "cut-leader"])
            if action == "cut-leader":
                victim = cluster.leader() or victim
            actions.append(f"{action} {victim}")
            if action == "kill":
                cluster.agents[victim].kill9()
                time.sleep(rng.uniform(0.2, 0.8))
                cluster.start(victim).wait_ready(timeout=30, need_leader=False)
            else:
                for other in HOSTS:
                    if other != victim:
                        cluster.cut(victim, other)
                time.sleep(rng.uniform(0.5, 1.5))
                cluster.heal()
            time.sleep(rng.uniform(0.1, 0.3))
        cluster.heal()
        wait_until(cluster.leader, 30, what="a leader after the nemesis")
        stop.set()
        for c in clients:
            c.join(30)
        # Final reads: every acknowledged write must still be reflected.
        final = Client(cluster, 99, stop, 0)
        for key in KEYS:
            start = time.monotonic()
            ok, v, _ = wait_until(lambda k=key: (lambda r: r if r[0] else None)(final.read(HOSTS[0], k)), 20, what="final read")
            final.history[key].append(Op(start, time.monotonic(), READ, out=v))
    finally:
        stop.set()
        cluster.stop_all()
    acked = sum(c.acked_writes for c in clients)
    assert acked > 50, f"too few writes were acknowledged to mean anything ({acked}); actions: {actions}"
    for key in KEYS:
        history = [op for c in [*clients, final] for op in c.history[key]]
        assert check(history), f"history of {key} is not linearizable ({len(history)} ops); actions: {actions}"
