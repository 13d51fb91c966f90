"""Raft for pyconsul servers.

Pure core (no I/O): core.py (RaftCore), log.py (RaftLog), progress.py, messages.py.
Storage: storage.py (protocols, in-memory), segment_log.py, stable.py, snapshot.py, files.py.
Drivers: node.py (asyncio RaftNode), disk.py, transport.py (protocol), tcp_transport.py.
Cluster: discovery.py (join, bootstrap_expect, membership reconcile, autopilot cleanup).
The `pyconsul.consensus.Consensus` built on them is `pyconsul.consensus.raft.RaftConsensus`.
"""
