"""Health checks: check types, thresholds and the scheduler that runs them for the agent."""

from pyconsul.checks.base import (
    CRITICAL,
    PASSING,
    WARNING,
    CheckDefinitionError,
    CheckNotifier,
    CheckResult,
    CheckSpec,
)
from pyconsul.checks.scheduler import CheckScheduler

__all__ = [
    "CRITICAL",
    "PASSING",
    "WARNING",
    "CheckDefinitionError",
    "CheckNotifier",
    "CheckResult",
    "CheckScheduler",
    "CheckSpec",
]
