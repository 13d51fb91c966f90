"""The web UI under /ui/: static ES modules that read the same HTTP API every client uses.

`server` serves the files (content path, ETags, CSP), `settings` is what the page learns before
its first fetch, `internal_api` holds Consul's /v1/internal/ui/* summaries the list views read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyconsul.ui.server import UIOptions, add_ui_routes
from pyconsul.ui.settings import UIFeatures, features_served

if TYPE_CHECKING:
    from pyconsul.config.runtime import RuntimeConfig

__all__ = ["UIOptions", "add_ui_routes", "options_from_config", "options_source"]


def options_from_config(cfg: RuntimeConfig) -> UIOptions:
    """The UI options `cfg` holds now; features from the route table and the ACL switch."""
    from pyconsul.api.routes import ROUTES

    paths = [path for _, path, _ in ROUTES]
    ui = cfg.ui_config

    def features() -> UIFeatures:
        return features_served(paths, cfg.acl.enabled)

    return UIOptions(enabled=ui.enabled, content_path=ui.content_path, dir=ui.dir, features=features)


def options_source(config: Callable[[], RuntimeConfig]) -> Callable[[], UIOptions]:
    """Options read from the agent's config at each request, so a reload's ui_config applies."""
    return lambda: options_from_config(config())
