"""Decoding msgpack from the network at a cost bounded by the bytes received.

msgpack's own limits scale with the input: 1 MiB of 0x80 bytes inside one array decodes to a
million dicts, 72 MiB of heap. `unpack_limited` caps every length to what the protocol can
really carry, decodes arrays as tuples (the empty tuple is shared, so a run of 0x90 costs a
pointer each) and counts maps, so any shape costs a small multiple of its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack


class LimitExceeded(ValueError):
    """Input that is not msgpack, or is over one of the limits."""


@dataclass(frozen=True)
class Limits:
    max_bin_len: int
    max_str_len: int
    max_array_len: int
    max_map_len: int
    max_maps: int  # maps in the whole document


def unpack_limited(data: bytes, limits: Limits) -> Any:
    """Decode `data` (arrays as tuples, str map keys only); LimitExceeded on anything else."""
    maps = 0

    def count_map(d: dict[Any, Any]) -> dict[Any, Any]:
        nonlocal maps
        maps += 1
        if maps > limits.max_maps:
            raise LimitExceeded(f"more than {limits.max_maps} maps")
        return d

    try:
        return msgpack.unpackb(
            data, raw=False, use_list=False, strict_map_key=True, object_hook=count_map,
            max_bin_len=limits.max_bin_len, max_str_len=limits.max_str_len,
            max_array_len=limits.max_array_len, max_map_len=limits.max_map_len, max_ext_len=0,
        )
    except LimitExceeded:
        raise
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise LimitExceeded(f"not msgpack within limits: {exc}") from None
