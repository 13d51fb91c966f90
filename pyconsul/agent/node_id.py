"""A node keeps its ID across restarts: it is stored in `<data_dir>/node-id`, as Consul does."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from pyconsul.config.runtime import RuntimeConfig

log = logging.getLogger("pyconsul.agent")


def settle_node_id(cfg: RuntimeConfig) -> None:
    if cfg.dev or not cfg.data_dir:
        return
    path = Path(cfg.data_dir) / "node-id"
    try:
        from pyconsul.config.loader import _names_node_id

        named = _names_node_id(cfg)
    except Exception:
        named = False
    if not named and path.exists():
        try:
            cfg.node_id = str(uuid.UUID(path.read_text().strip()))
            return
        except ValueError:
            log.warning("ignoring a malformed node-id file", extra={"path": str(path)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cfg.node_id)
    os.replace(tmp, path)
