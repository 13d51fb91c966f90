"""A suspicion timer that shortens as independent members confirm the suspicion.

Lifeguard's rule (as memberlist): start at `max_timeout`; each distinct confirmer moves the
deadline towards `min_timeout` on a log scale, reaching it after `k` confirmations. With nobody
able to confirm (k < 1) the minimum applies at once.
"""

from __future__ import annotations

import math


class Suspicion:
    def __init__(
        self, start: float, incarnation: int, origin: str, k: int, min_timeout: float, max_timeout: float
    ) -> None:
        self.start = start
        self.incarnation = incarnation
        self.k = k
        self.min_timeout = min_timeout
        self.max_timeout = max_timeout if k >= 1 else min_timeout
        self._confirmers: set[str] = {origin}

    @property
    def confirmations(self) -> int:
        return len(self._confirmers) - 1

    def confirm(self, sender: str) -> bool:
        """Record `sender`; True when it is new (the caller then re-gossips the suspicion)."""
        if self.confirmations >= self.k or sender in self._confirmers:
            return False
        self._confirmers.add(sender)
        return True

    def timeout(self) -> float:
        if self.k < 1:
            return self.min_timeout
        frac = math.log(self.confirmations + 1) / math.log(self.k + 1)
        return max(self.min_timeout, self.max_timeout - frac * (self.max_timeout - self.min_timeout))

    @property
    def deadline(self) -> float:
        return self.start + self.timeout()
