"""Small timing helpers shared by the benchmark scripts: medians of repeated runs, printed as a table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence


def median_seconds(func: Callable[[], object], *, number: int, repeat: int = 7) -> float:
    """Median over ``repeat`` runs of the time one call of ``func`` takes (each run calls it ``number`` times)."""
    func()  # warm up caches and lazily generated code
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """Print ``(what, figure, ratio)`` rows under a title."""
    print(f"\n{title}")
    width = max(len(row[0]) for row in rows)
    for what, figure, ratio in rows:
        print(f"  {what:<{width}}  {figure:>14}  {ratio}")


def interleaved_medians(
    candidates: Mapping[str, Callable[[], object]], *, number: int, rounds: int = 9
) -> dict[str, float]:
    """Median seconds per call of each candidate, timed round-robin so that noise on a shared machine (other
    processes waking up) hits baseline and contender alike rather than whichever happened to run then."""
    for func in candidates.values():
        func()  # warm up
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, func in candidates.items():
            start = time.perf_counter()
            for _ in range(number):
                func()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(values) for name, values in samples.items()}
