"""Wall-clock measurement: repeated calls summarized as median and p95 (perf_counter, seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call over `n` timed calls (after warm-up)."""

    median: float
    p95: float
    mean: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(samples: list[float] | np.ndarray) -> Timing:
    """Median/p95/mean of per-call durations in seconds."""
    values = np.asarray(samples, dtype=np.float64)
    return Timing(
        median=float(np.median(values)),
        p95=float(np.percentile(values, 95)),
        mean=float(values.mean()),
        n=len(values),
    )


def measure(
    fn: Callable[[], object], *, repeat: int, warmup: int = 3, budget_s: float | None = None
) -> Timing:
    """Time `repeat` calls of fn() (stopping early once `budget_s` seconds are spent, after >= 5 calls)."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    for _ in range(repeat):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
        if budget_s is not None and len(samples) >= 5 and clock() - start > budget_s:
            break
    return summarize(samples)
