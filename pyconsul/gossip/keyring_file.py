"""The LAN keyring file, `<data_dir>/serf/local.keyring`: a JSON list of base64 keys, primary
first, mode 0600 — the file Consul keeps so keys installed at run time survive a restart.

Consul's rule at start: an existing file wins and `encrypt` is then ignored (with a warning);
without a file, `encrypt` seeds one. With `disable_keyring_file` (or no data dir, as in -dev)
nothing is read or written and the keyring is just the `encrypt` key.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pyconsul.config.runtime import RuntimeConfig
from pyconsul.gossip.crypto import Keyring

log = logging.getLogger("pyconsul.gossip")

LAN_KEYRING = Path("serf") / "local.keyring"


def keyring_path(config: RuntimeConfig) -> Path | None:
    """Where this agent keeps its keyring, or None when it keeps none."""
    if config.disable_keyring_file or config.dev or not config.data_dir:
        return None
    return Path(config.data_dir) / LAN_KEYRING


def read_keyring(path: Path) -> Keyring:
    """Raises ValueError naming the file when it is not a list of valid keys."""
    try:
        keys = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"Failed to read keyring file {path}: {exc}") from None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"Failed to read keyring file {path}: expected a non-empty list of keys")
    try:
        return Keyring.from_text(keys)
    except ValueError as exc:
        raise ValueError(f"Failed to read keyring file {path}: {exc}") from None


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Replace the file atomically, readable by the agent's user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keyring.keys, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_keyring(config: RuntimeConfig) -> Keyring | None:
    """The keyring this agent starts with (None: gossip is not encrypted). Seeds the file from
    `encrypt` the first time. Raises ValueError for a bad key or an unreadable file."""
    path = keyring_path(config)
    if path is not None and path.exists():
        if config.encrypt:
            log.warning("gossip: LAN keyring exists but -encrypt given, using keyring")
        return read_keyring(path)
    keyring = Keyring.from_config(config.encrypt)
    if keyring is not None and path is not None:
        write_keyring(path, keyring)
    return keyring
