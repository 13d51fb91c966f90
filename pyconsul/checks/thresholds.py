"""success_before_passing / failures_before_warning / failures_before_critical (Consul's StatusHandler).

A result is passed on only once enough consecutive results agree: `success_before_passing`
passing-or-warning results in a row before a passing/warning status is reported; a failure is
reported as critical after `failures_before_critical` failures in a row, and as warning after
`failures_before_warning` (which defaults to the critical threshold). Until then the previous
status stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyconsul.checks.base import CRITICAL, PASSING, WARNING, CheckResult


@dataclass
class Thresholds:
    success_before_passing: int = 0
    failures_before_warning: int = 0
    failures_before_critical: int = 0
    successes: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        if self.failures_before_warning <= 0:
            self.failures_before_warning = self.failures_before_critical

    def apply(self, result: CheckResult) -> CheckResult | None:
        """The result to report, or None to keep the current status."""
        if result.status in (PASSING, WARNING):
            self.successes += 1
            self.failures = 0
            if self.successes >= self.success_before_passing:
                return result
            return None
        self.failures += 1
        self.successes = 0
        if self.failures >= self.failures_before_critical:
            return CheckResult(CRITICAL, result.output)
        if self.failures >= self.failures_before_warning:
            return CheckResult(WARNING, result.output)
        return None
