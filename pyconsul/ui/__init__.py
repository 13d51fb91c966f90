"""The web UI under /ui/: static ES modules that read the same HTTP API every client uses.

`server` serves the files (content path, ETags, CSP), `settings` is what the page learns before
its first fetch, `internal_api` holds Consul's /v1/internal/ui/* summaries the list views read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyconsul.ui.server import UIOptions, add_ui_routes

if TYPE_CHECKING:
    from pyconsul.config.runtime import RuntimeConfig

__all__ = ["UIOptions", "add_ui_routes", "options_from_config"]


def options_from_config(cfg: RuntimeConfig) -> UIOptions:
    ui = cfg.ui_config
    return UIOptions(enabled=ui.enabled, content_path=ui.content_path, dir=ui.dir)
