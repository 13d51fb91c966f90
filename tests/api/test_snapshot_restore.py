"""PUT /v1/snapshot against a real agent: archives are inflated as a bounded stream off the event
loop and restored only when SHA256SUMS vouches for every file; anything else is a 400 that
leaves the state as it was."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from pathlib import Path

import pytest

from pyconsul import snapshot_archive
from tests.support.agents import AgentProcess

GiB = 1024**3


def tar_bytes(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def sums(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in files.items()).encode()


def bomb(member: str, size: int) -> bytes:
    """A gzip'd tar whose `member` holds `size` zero bytes, about size/1000 compressed: gzip
    members of 16 MiB of zeros, concatenated (one stream to a reader), so it is cheap to make."""
    info = tarfile.TarInfo(member)
    info.size = size
    piece = 16 * 1024 * 1024
    zeros = gzip.compress(bytes(piece), 6)
    head = gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT))
    return head + zeros * (size // piece) + gzip.compress(bytes(1024))


def peak_rss(agent: AgentProcess) -> int:
    for line in Path(f"/proc/{agent.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def kv(agent: AgentProcess, key: str) -> bytes | None:
    status, _, body = agent.request("GET", f"/v1/kv/{key}?raw")
    return body if status == 200 else None


def restore(agent: AgentProcess, body: bytes) -> tuple[int, str]:
    status, _, reply = agent.request("PUT", "/v1/snapshot", body, timeout=30)
    return status, reply.decode(errors="replace")


@pytest.fixture(scope="module")
def saved(shared_agent: AgentProcess) -> bytes:
    """A real snapshot holding snap/keep=old, after which snap/keep is changed to new."""
    assert shared_agent.request("PUT", "/v1/kv/snap/keep", b"old")[0] == 200
    status, _, archive = shared_agent.request("GET", "/v1/snapshot")
    assert status == 200
    assert shared_agent.request("PUT", "/v1/kv/snap/keep", b"new")[0] == 200
    return archive


def members_of(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def repack(files: dict[str, bytes]) -> bytes:
    return gzip.compress(tar_bytes(list(files.items())))


def test_gzip_bomb_is_refused_from_its_header_without_inflating(shared_agent: AgentProcess, saved: bytes) -> None:
    body = bomb("state.bin", 2 * GiB)
    assert len(body) < 4 * 1024 * 1024
    before = peak_rss(shared_agent)
    started = time.monotonic()
    status, text = restore(shared_agent, body)
    assert status == 400, text
    assert text.startswith("Snapshot restore failed: ") and "state.bin is larger than" in text
    assert time.monotonic() - started < 5
    # Inflating 2 GiB would have taken the agent's peak memory past a gigabyte.
    assert peak_rss(shared_agent) - before < 256 * 1024 * 1024
    assert kv(shared_agent, "snap/keep") == b"new"


def test_small_members_are_capped_too(shared_agent: AgentProcess) -> None:
    status, text = restore(shared_agent, bomb("meta.json", 64 * 1024 * 1024))
    assert status == 400 and "meta.json is larger than 1048576 bytes" in text


def test_event_loop_keeps_answering_during_a_large_restore(shared_agent: AgentProcess, saved: bytes) -> None:
    # A 150 MiB state image (declared honestly): inflating and hashing it runs in a worker, so
    # a status read sent meanwhile is answered at once.
    files = members_of(saved)
    big = bytes(150 * 1024 * 1024)
    files = {"meta.json": files["meta.json"], "state.bin": big}
    files["SHA256SUMS"] = sums(files)
    body = gzip.compress(tar_bytes(list(files.items())), 1)
    del big, files
    result: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: result.append(restore(shared_agent, body)))
    began = time.monotonic()
    worker.start()
    try:
        slowest = 0.0
        while worker.is_alive():
            t0 = time.monotonic()
            assert shared_agent.request("GET", "/v1/status/leader", timeout=5)[0] == 200
            slowest = max(slowest, time.monotonic() - t0)
    finally:
        worker.join(60)
    assert result and result[0][0] == 400  # zeros are no state image
    took = time.monotonic() - began
    # Were the restore on the event loop, one read would wait out most of it; a loaded machine
    # slows both alike, so the bound is relative (and 0.5 s on a quiet one).
    assert slowest < max(0.5, took / 4), (slowest, took)
    assert kv(shared_agent, "snap/keep") == b"new"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("tampered state", "sha256 hash mismatch for 'state.bin'"),
        ("tampered meta", "sha256 hash mismatch for 'meta.json'"),
        ("state not listed", "missing sha256 hash for 'state.bin' in SHA256SUMS"),
        ("empty sums", "missing sha256 hash for 'meta.json' in SHA256SUMS"),
        ("no sums file", "missing SHA256SUMS"),
        ("extra file", "unexpected file 'extra' in snapshot"),
        ("malformed line", "malformed SHA256SUMS line"),
        ("not gzip", "gzip: invalid header"),
    ],
)
def test_tampered_archives_are_refused_and_state_untouched(
    shared_agent: AgentProcess, saved: bytes, case: str, message: str
) -> None:
    files = members_of(saved)
    state = files["state.bin"]
    if case == "tampered state":
        files["state.bin"] = state[:-1] + bytes([state[-1] ^ 1])
    elif case == "tampered meta":
        files["meta.json"] = json.dumps({**json.loads(files["meta.json"]), "Index": 1}).encode()
    elif case == "state not listed":
        files["SHA256SUMS"] = sums({"meta.json": files["meta.json"]})
    elif case == "empty sums":
        files["SHA256SUMS"] = b""
    elif case == "no sums file":
        del files["SHA256SUMS"]
    elif case == "extra file":
        files["extra"] = b"x"
    elif case == "malformed line":
        files["SHA256SUMS"] += b"nonsense\n"
    body = state if case == "not gzip" else repack(files)
    status, text = restore(shared_agent, body)
    assert status == 400, text
    assert text.startswith("Snapshot restore failed: ") and message in text, text
    assert kv(shared_agent, "snap/keep") == b"new"


def test_an_intact_archive_still_restores(shared_agent: AgentProcess, saved: bytes) -> None:
    assert restore(shared_agent, saved) == (200, "")
    assert kv(shared_agent, "snap/keep") == b"old"
    assert shared_agent.request("PUT", "/v1/kv/snap/keep", b"new")[0] == 200


def test_inflation_cap_counts_every_byte() -> None:
    state = bytes(300_000)
    archive = snapshot_archive.build({"ID": "1-2-3"}, state)
    assert snapshot_archive.read_verified(archive, limit=400_000)[1] == state
    with pytest.raises(snapshot_archive.SnapshotError, match="larger than 200000 bytes"):
        snapshot_archive.read_verified(archive, limit=200_000)
    # Two members each under the cap, together past it: the stream itself stops.
    two = gzip.compress(tar_bytes([("meta.json", b"{}" + b" " * 150_000), ("state.bin", bytes(150_000))]))
    with pytest.raises(snapshot_archive.SnapshotError, match="inflates past 250000 bytes"):
        snapshot_archive.read_verified(two, limit=250_000)
