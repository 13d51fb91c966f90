"""How writes become durable: the `Consensus` protocol, its errors, and three implementations —
`local` (the in-memory log of a `-dev` agent), `raft` (a server in a cluster) and `remote` (a
client agent, whose writes go to a server). Import an implementation from its module; this
package exports only the protocol and the errors, so `pyconsul.raft` can use them."""

from pyconsul.consensus.errors import (
    ConsensusError,
    ForwardFailed,
    LeadershipLost,
    NoLeader,
    NotLeader,
    UnknownPeer,
)
from pyconsul.consensus.protocol import Consensus, LeaderStatus, StreamHandler

__all__ = [
    "Consensus",
    "ConsensusError",
    "ForwardFailed",
    "LeaderStatus",
    "LeadershipLost",
    "NoLeader",
    "NotLeader",
    "StreamHandler",
    "UnknownPeer",
]
