"""Who we last knew, on disk, so a restarted agent rejoins without being told (serf's snapshot).

Stored as JSON at `<data_dir>/serf/local.snapshot`: the alive members' addresses and whether this
agent left gracefully. After a graceful leave the addresses are ignored on restart unless
`rejoin_after_leave` is set, as in Consul.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pyconsul.gossip")


@dataclass(frozen=True)
class SnapshotState:
    addresses: list[str]
    left: bool


class MemberSnapshot:
    def __init__(self, data_dir: str) -> None:
        self.path = Path(data_dir) / "serf" / "local.snapshot"
        self._last: SnapshotState | None = None

    def load(self) -> SnapshotState:
        try:
            raw = json.loads(self.path.read_text())
            addrs = [a for a in raw.get("alive", []) if isinstance(a, str)]
            return SnapshotState(addrs, bool(raw.get("left", False)))
        except FileNotFoundError:
            return SnapshotState([], False)
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("gossip: ignoring unreadable snapshot %s: %s", self.path, exc)
            return SnapshotState([], False)

    def save(self, state: SnapshotState) -> None:
        if state == self._last:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"alive": state.addresses, "left": state.left}))
            os.replace(tmp, self.path)
            self._last = state
        except OSError as exc:
            log.warning("gossip: cannot write snapshot %s: %s", self.path, exc)

    def rejoin_addresses(self, rejoin_after_leave: bool) -> list[str]:
        state = self.load()
        if state.left and not rejoin_after_leave:
            return []
        return state.addresses
