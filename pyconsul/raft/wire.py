"""Limits on what another server may send, and the one msgpack decoder for peer input.

The numbers follow from what an honest server sends, not from what the encoding allows:
- an entry's data is at most `MAX_ENTRY_BYTES` (proposals larger than that are refused before
  they are appended, so the limit can never strand a committed entry);
- an AppendEntries carries at most `max_msg_bytes` (1 MiB) of entries, or one larger entry;
- a snapshot travels as chunks of at most `MAX_CHUNK_BYTES`;
- a frame batches messages up to `BATCH_BYTES`, or holds one message alone.
So no frame is larger than one full entry plus an envelope: `MAX_FRAME_BYTES`, checked against
the length prefix before a byte of the body is read.

Every msgpack from a peer is decoded by `unpack_peer`, with these limits on each length and on
the number of maps (pyconsul.msgpack_limits), so its cost is bounded by the bytes received.
"""

from __future__ import annotations

from typing import Any

from pyconsul.msgpack_limits import LimitExceeded, Limits, unpack_limited

MAX_TERM_OR_INDEX = 1 << 63  # exclusive: a term/index read from a peer is below this
MAX_ENTRY_BYTES = 64 << 20
MAX_CHUNK_BYTES = 1 << 20
MAX_SNAPSHOT_BYTES = 1 << 30
MAX_ID_LEN = 1024  # server IDs, "IP:port" addresses, call method names
MAX_CTX_BYTES = 1024  # read-index contexts ("<id>/<counter>")
MAX_VOTERS = 1024
MAX_MESSAGES_PER_FRAME = 4096
BATCH_BYTES = 4 << 20
MAX_FRAME_BYTES = MAX_ENTRY_BYTES + (1 << 20)
# 1 MiB of entries at >= 16 bytes each (RaftLog.slice's accounting), and messages per frame.
MAX_ARRAY_LEN = max((1 << 20) // 16 + 1, MAX_MESSAGES_PER_FRAME)
MAX_STR_LEN = 64 << 10
MAX_MAP_LEN = MAX_VOTERS
MAX_MAPS = 4096  # per decoded frame: maps are voter sets and small call bodies
PEER_LIMITS = Limits(max_bin_len=MAX_FRAME_BYTES, max_str_len=MAX_STR_LEN, max_array_len=MAX_ARRAY_LEN,
                     max_map_len=MAX_MAP_LEN, max_maps=MAX_MAPS)


class DecodeError(ValueError):
    """Peer input that is not what an honest server sends (the message is dropped)."""


def unpack_peer(data: bytes) -> Any:
    """Decode msgpack from another server, arrays as tuples; DecodeError on anything over a
    limit or malformed."""
    try:
        return unpack_limited(data, PEER_LIMITS)
    except LimitExceeded as exc:
        raise DecodeError(str(exc)) from None


def as_lists(x: Any) -> Any:
    """`x` with its tuples turned back into lists (call bodies, which handlers see as JSON-like)."""
    if isinstance(x, tuple):
        return [as_lists(v) for v in x]
    if isinstance(x, dict):
        return {k: as_lists(v) for k, v in x.items()}
    return x
