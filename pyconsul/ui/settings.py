"""What the page is told about this agent before any fetch: its URL prefix and which optional
features it serves (the nav shows an entry only for a feature the agent reports).

Consul injects the same kind of settings into index.html; the page reads them from a meta tag,
so no inline script is needed under the strict CSP.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UIFeatures:
    """Optional views, each on when the agent serves its API. The issues that build ACLs,
    intentions and the Connect CA turn these on from the agent's config."""

    ACLsEnabled: bool = False
    IntentionsEnabled: bool = False
    ConnectCAEnabled: bool = False


class FeatureSource(Protocol):
    """Tells the UI which optional features this agent serves right now."""

    def __call__(self) -> UIFeatures: ...


def no_features() -> UIFeatures:
    return UIFeatures()


def settings_meta(content_path: str, features: UIFeatures) -> str:
    """The attribute-escaped JSON the page reads from <meta name="pyconsul-ui-settings">."""
    value = {"ContentPath": content_path, **asdict(features)}
    return html.escape(json.dumps(value, separators=(",", ":")), quote=True)
