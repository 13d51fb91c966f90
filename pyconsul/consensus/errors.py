"""Why a write or a consistent read could not be served — one type per reason.

Callers decide by type, never by message text: `NotLeader` and `LeadershipLost` mean the
command surely was not appended, so it may be retried at the (new) leader; `ForwardFailed`
says with `delivered` whether the request may have reached the leader; `NoLeader` is what
is left once waiting for a leader gave up. The HTTP API answers every `ConsensusError` with
500 and its text, as Consul does for "No cluster leader".
"""

from __future__ import annotations


class ConsensusError(Exception):
    """A write or barrier could not be served by the cluster."""


class NoLeader(ConsensusError):
    """No leader is known (or none could be reached in time): Consul's 'No cluster leader'."""

    def __init__(self, message: str = "No cluster leader") -> None:
        super().__init__(message)


class NotLeader(ConsensusError):
    """The server asked is not the leader; nothing was appended.

    `leader` names the leader as the raiser knows it ("" when none is known): the pure Raft
    core knows only its server ID, a Raft node and a `Consensus` give its "IP:port".
    """

    def __init__(self, leader: str = "") -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class LeadershipLost(ConsensusError):
    """The leader lost its leadership before the command committed: it was not applied."""

    def __init__(self, message: str = "leadership lost") -> None:
        super().__init__(message)


class ForwardFailed(ConsensusError):
    """A request for the leader (or, from a client agent, for any server) did not get an answer.

    `delivered` is False only when the request surely never left (the connection could not be
    made), which makes a retry safe even for a write.
    """

    def __init__(self, message: str, delivered: bool = True) -> None:
        super().__init__(message)
        self.delivered = delivered


class UnknownPeer(ValueError):
    """`remove_peer` named no voter: Consul's "... was not found in the Raft configuration"."""
