"""The wire codec: every message survives a round trip; any other bytes raise DecodeError only."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.gossip.crypto import DecryptError, Keyring, parse_key
from pyconsul.gossip.messages import (
    Ack,
    Alive,
    Dead,
    DecodeError,
    IndirectPing,
    Ping,
    PushPull,
    PushPullState,
    Suspect,
    decode_packet,
    encode_packet,
)
from pyconsul.gossip.state import NodeStatus

names = st.text(min_size=1, max_size=20)
ints = st.integers(0, 2**32 - 1)
tags = st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5)
states = st.builds(PushPullState, names, names, st.integers(0, 65535), tags, ints, st.sampled_from(NodeStatus))
messages = st.one_of(
    st.builds(Ping, ints, names),
    st.builds(IndirectPing, ints, names, names, st.integers(0, 65535)),
    st.builds(Ack, ints),
    st.builds(Alive, ints, names, names, st.integers(0, 65535), tags),
    st.builds(Suspect, ints, names, names),
    st.builds(Dead, ints, names, names, st.booleans()),
    st.builds(PushPull, st.booleans(), st.booleans(), st.lists(states, max_size=4).map(tuple)),
)


@given(st.lists(messages, max_size=6))
def test_packets_round_trip(msgs: list[object]) -> None:
    assert decode_packet(encode_packet(msgs)) == msgs  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(data: bytes) -> None:
    try:
        decode_packet(data)
    except DecodeError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=5), max_leaves=20))
def test_well_formed_msgpack_of_the_wrong_shape_is_a_decode_error(value: object) -> None:
    try:
        decode_packet(msgpack.packb([value]))
    except DecodeError:
        pass


def test_wrong_field_types_are_rejected_with_the_field_named() -> None:
    with pytest.raises(DecodeError, match="Ping.seq"):
        decode_packet(msgpack.packb([[Ping.TYPE, "1", "n"]]))
    with pytest.raises(DecodeError, match="unknown message type 99"):
        decode_packet(msgpack.packb([[99]]))


@given(st.binary(max_size=300))
def test_sealed_messages_open_only_with_the_same_key(payload: bytes) -> None:
    key = parse_key("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=")
    other = parse_key("HlEU9mMzPcqXGtsCRSv5ZjTDB8O7BJbG1vbRjL0NOJQ=")
    ring = Keyring([key])
    sealed = ring.seal(payload)
    assert ring.open(sealed) == payload
    assert Keyring([other, key]).open(sealed) == payload  # rotation: any installed key opens
    with pytest.raises(DecryptError):
        Keyring([other]).open(sealed)
