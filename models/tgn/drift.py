"""Concept-drift signal for early fine-tuning: river's ADWIN over the online hit rate.

The online hit rate is what a client sees from outside: did the list that answered a user's previous
event contain the item of their next event (hit@k)? When ADWIN finds that its mean dropped, the model
has gone stale faster than the fine-tuning period assumed, and a fine-tune is worth running early.
"""
from __future__ import annotations

from river.drift import ADWIN


class DriftMonitor:
    """Tracks online hit@k with :class:`river.drift.ADWIN`; :meth:`update` says when it dropped.

    Parameters
    ----------
    k
        List length the hits refer to (for reporting; the caller decides what a hit is).
    delta
        ADWIN confidence (smaller = fewer, surer detections).

    Examples
    --------
    >>> monitor = DriftMonitor(k=10, delta=0.002)
    >>> signals = [monitor.update(n < 2000 or n % 4 == 0) for n in range(4000)]   # 100% -> 25% hits
    >>> any(signals[:2000]), any(signals[2000:])
    (False, True)
    >>> round(monitor.hit_rate, 1)
    0.2
    """

    def __init__(self, k: int = 10, delta: float = 0.002) -> None:
        self.k = k
        self.delta = delta
        self.reset_state()

    def reset_state(self) -> None:
        self.adwin = ADWIN(delta=self.delta)
        self.n_drops = 0
        self.n_seen = 0

    @property
    def hit_rate(self) -> float:
        """The current ADWIN window's mean hit rate (0 before any update)."""
        return float(self.adwin.estimation)

    def update(self, hit: bool) -> bool:
        """Add one observation; ``True`` when ADWIN detects a change *and* the hit rate went down."""
        before = self.adwin.estimation
        self.adwin.update(1.0 if hit else 0.0)
        self.n_seen += 1
        if self.adwin.drift_detected and self.adwin.estimation < before:
            self.n_drops += 1
            return True
        return False
