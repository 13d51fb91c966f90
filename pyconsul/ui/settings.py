"""What the page is told about this agent before any fetch: its URL prefix and which optional
features it serves (the nav shows an entry only for a feature the agent reports).

Consul injects the same kind of settings into index.html; the page reads them from a meta tag,
so no inline script is needed under the strict CSP.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

# A feature is on only when the agent's route table serves the endpoint its view reads, so a
# view never appears before its API exists (and appears on its own once that API lands).
INTENTIONS_ROUTE = "/v1/connect/intentions"
CA_ROOTS_ROUTE = "/v1/connect/ca/roots"
ACL_ROUTE_PREFIX = "/v1/acl/"


@dataclass(frozen=True, slots=True)
class UIFeatures:
    """Optional views, each on when the agent serves its API."""

    ACLsEnabled: bool = False
    IntentionsEnabled: bool = False
    ConnectCAEnabled: bool = False


class FeatureSource(Protocol):
    """Tells the UI which optional features this agent serves right now."""

    def __call__(self) -> UIFeatures: ...


def no_features() -> UIFeatures:
    return UIFeatures()


def features_served(route_paths: Iterable[str], acl_enabled: bool) -> UIFeatures:
    """The features whose endpoints are in `route_paths`; ACL views also need ACLs switched on
    (with them off every /v1/acl/ endpoint answers 401 `ACL support disabled`)."""
    paths = set(route_paths)
    return UIFeatures(
        ACLsEnabled=acl_enabled and any(p.startswith(ACL_ROUTE_PREFIX) for p in paths),
        IntentionsEnabled=INTENTIONS_ROUTE in paths,
        ConnectCAEnabled=CA_ROOTS_ROUTE in paths,
    )


def settings_meta(content_path: str, features: UIFeatures) -> str:
    """The attribute-escaped JSON the page reads from <meta name="pyconsul-ui-settings">."""
    value = {"ContentPath": content_path, **asdict(features)}
    return html.escape(json.dumps(value, separators=(",", ":")), quote=True)
