"""The keyring without sockets: install/use/remove and their refusals, sealing across a rotation,
the verify switches, the keyring file's start-up rule, and how members' answers are tallied."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.gossip.crypto import NOT_INSTALLED, REMOVE_PRIMARY, DecryptError, Keyring, KeyringError
from pyconsul.gossip.keyring_file import load_keyring, write_keyring
from pyconsul.gossip.keyring_query import (
    NOT_ENABLED,
    NodeAnswer,
    answer,
    decode_answer,
    decode_query,
    encode_answer,
    encode_query,
    error_text,
    tally,
)

K1, K2, K3 = (base64.b64encode(bytes([i]) * 32).decode() for i in (1, 2, 3))


def test_install_use_remove_rotates_and_every_installed_key_still_opens() -> None:
    ring = Keyring.from_text([K1])
    old = ring.seal(b"sealed with K1")
    ring.install(K2)
    assert ring.keys == [K1, K2] and ring.primary == K1
    ring.use(K2)
    assert ring.keys == [K2, K1] and ring.primary == K2
    assert ring.open(old) == b"sealed with K1"  # in flight during the switch: still accepted
    new = ring.seal(b"sealed with K2")
    ring.remove(K1)
    assert ring.keys == [K2]
    assert ring.open(new) == b"sealed with K2"
    with pytest.raises(DecryptError):
        ring.open(old)
    # A member that kept only the old key cannot read the new traffic.
    with pytest.raises(DecryptError):
        Keyring.from_text([K1]).open(new)


def test_refusals_carry_consuls_texts() -> None:
    ring = Keyring.from_text([K1, K2])
    with pytest.raises(KeyringError, match=f"^{REMOVE_PRIMARY}$"):
        ring.remove(K1)
    with pytest.raises(KeyringError, match=f"^{NOT_INSTALLED}$"):
        ring.use(K3)
    with pytest.raises(KeyringError, match="^Failed to decode key: "):
        ring.install("not base64!")
    with pytest.raises(KeyringError, match="^key size must be 16, 24 or 32 bytes$"):
        ring.install(base64.b64encode(b"short").decode())
    assert ring.keys == [K1, K2]  # nothing refused changed anything


@given(st.lists(st.tuples(st.sampled_from(["install", "use", "remove"]), st.sampled_from([K1, K2, K3])),
                max_size=30))
def test_any_sequence_keeps_one_primary_that_seals_what_every_installed_key_set_opens(
        ops: list[tuple[str, str]]) -> None:
    ring = Keyring.from_text([K1])
    model = [K1]
    for op, key in ops:
        result, changed = answer(ring, op, key)
        before = list(model)
        if op == "install" and key not in model:
            model.append(key)
        elif op == "use" and key in model:
            model.remove(key)
            model.insert(0, key)
        elif op == "remove" and key != model[0] and key in model:
            model.remove(key)
        assert ring.keys == model and result.keys == tuple(model) and result.primary == model[0]
        assert changed == (model != before)
        assert bool(result.error) == ((op == "use" and key not in before) or (op == "remove" and key == before[0]))
    sealed = ring.seal(b"x")
    # Sealed with the primary: a member holding only that key opens it, one holding only others not.
    assert Keyring.from_text([model[0]]).open(sealed) == b"x"
    others = [k for k in (K1, K2, K3) if k != model[0]]
    with pytest.raises(DecryptError):
        Keyring.from_text(others).open(sealed)


def test_query_and_answer_round_trip_and_refuse_garbage() -> None:
    assert decode_query(encode_query("install", K2)) == ("install", K2)
    for bad in (b"K[]", b"K{\"Op\": \"format\"}", b"K{\"Op\": \"use\", \"Key\": 3}"):
        with pytest.raises(ValueError):
            decode_query(bad)
    a = NodeAnswer((K1, K2), K1, "")
    assert decode_answer(encode_answer(a)) == a
    with pytest.raises(ValueError):
        decode_answer(b'{"Keys": [1]}')
    assert answer(None, "list", "")[0] == NodeAnswer(error=NOT_ENABLED)


def test_tally_counts_keys_primaries_failures_and_silent_members() -> None:
    ok = NodeAnswer((K1, K2), K1)
    pool = tally(False, "dc1", {"a": ok, "b": ok, "c": NodeAnswer((K2,), K2)})
    assert pool.to_json() == {"WAN": False, "Datacenter": "dc1", "Segment": "", "Partition": "",
                              "Keys": {K1: 2, K2: 3}, "PrimaryKeys": {K1: 2, K2: 1}, "Messages": {},
                              "NumNodes": 3}
    assert error_text([pool]) == ""
    refused = NodeAnswer((K1,), K1, REMOVE_PRIMARY)
    lan = tally(False, "dc1", {"a": refused, "b": refused})
    wan = tally(True, "dc1", {"a.dc1": refused})
    assert error_text([wan, lan]) == (
        "5 errors occurred:\n\t* WAN error: 1/1 nodes reported failure\n\t* a.dc1: Removing the primary key is "
        "not allowed\n\t* dc1 (LAN) error: 2/2 nodes reported failure\n\t* a: Removing the primary key is not "
        "allowed\n\t* b: Removing the primary key is not allowed\n\n")
    silent = tally(False, "dc1", {"a": ok, "b": None})
    assert silent.keys == {K1: 1, K2: 1} and silent.num_nodes == 2
    assert error_text([silent]) == "1 error occurred:\n\t* dc1 (LAN) error: 1/2 nodes reported success\n\n"


def _config(tmp_path: Path, **kw: object) -> RuntimeConfig:
    return RuntimeConfig(data_dir=str(tmp_path), **kw)  # type: ignore[arg-type]


def test_encrypt_seeds_the_file_once_and_an_existing_file_wins(tmp_path: Path) -> None:
    path = tmp_path / "serf" / "local.keyring"
    ring = load_keyring(_config(tmp_path, encrypt=K1))
    assert ring is not None and ring.keys == [K1]
    assert json.loads(path.read_text()) == [K1]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ring.install(K2)
    ring.use(K2)
    write_keyring(path, ring)
    # Restarted with the old `encrypt` still configured: the file's keys, primary first.
    again = load_keyring(_config(tmp_path, encrypt=K1))
    assert again is not None and again.keys == [K2, K1]
    # No encrypt at all: the file still turns encryption on, as in Consul.
    assert load_keyring(_config(tmp_path)) is not None


def test_disable_keyring_file_and_dev_keep_only_the_encrypt_key(tmp_path: Path) -> None:
    ring = load_keyring(_config(tmp_path, encrypt=K1, disable_keyring_file=True))
    assert ring is not None and ring.keys == [K1]
    assert not (tmp_path / "serf").exists()
    assert load_keyring(_config(tmp_path, disable_keyring_file=True)) is None
    assert load_keyring(_config(tmp_path, encrypt=K1, dev=True)) is not None and not (tmp_path / "serf").exists()


def test_a_corrupt_keyring_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "serf" / "local.keyring"
    path.parent.mkdir()
    for content in ("{", "[]", '["not a key"]', '{"a": 1}'):
        path.write_text(content)
        with pytest.raises(ValueError, match=f"Failed to read keyring file {path}"):
            load_keyring(_config(tmp_path, encrypt=K1))
