"""Where ``track()``'s nanoseconds go: the cost of each step of its fast path, built up one step at a time.

Run: ``python benchmarks/bench_track_anatomy.py`` (also part of ``nox -s bench``). Each candidate is a method of the
same shape as ``TelemetryClient.track``, adding one step to the one before; they are timed round-robin in one run,
with the original design's lock + deque ``track()`` as the baseline. The differences show what each step costs and
what is left that no Python-level ``track()`` can avoid (the call itself, the class test, the append).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

from _timing import interleaved_medians, print_table

N = 1000


class Steps:
    """``track()`` reduced to its first k steps, one method per k."""

    def __init__(self) -> None:
        self._accepted: type = object
        self._deque: deque[Any] = deque(maxlen=10_000_000)
        self._append = self._deque.append
        self._count_append = itertools.count().__next__
        self._waiting = self._deque.__len__
        self._full_batch = 100
        self._lock = threading.Lock()
        self.errors = 0  # what track()'s never-raise guard would count

    def call(self, event: Any) -> None:
        pass

    def class_test(self, event: Any) -> None:
        if event.__class__ is self._accepted:
            pass

    def append(self, event: Any) -> None:
        if event.__class__ is self._accepted:
            self._append(event)

    def full_track(self, event: Any) -> None:
        """The same statements as ``TelemetryClient.track``'s fast path (the wake branch is rarely taken)."""
        try:
            if event.__class__ is self._accepted:
                self._append(event)
                waiting = self._waiting()
                if waiting == 1 or waiting >= self._full_batch:
                    pass
        except Exception:
            self.errors += 1

    def counted(self, event: Any) -> None:
        """The fast path with a per-event append counter, as ``track()`` had before evictions were counted by the
        evicting producer instead (one ``count.__next__`` per event)."""
        try:
            if event.__class__ is self._accepted:
                self._append(event)
                self._count_append()
                waiting = self._waiting()
                if waiting == 1 or waiting >= self._full_batch:
                    pass
        except Exception:
            self.errors += 1

    def original(self, event: Any) -> None:
        """The original SDK's ``track()``: enabled check, try, a lock around the append (its queue's ``put``)."""
        if not self._full_batch:
            return
        try:
            with self._lock:
                self._deque.append(event)
        except Exception:
            self.errors += 1


def main() -> None:
    steps = Steps()
    event = object()
    events = [event] * N

    def loop(method: Any) -> Any:
        def run() -> None:
            for item in events:
                method(item)
            steps._deque.clear()

        return run

    names = {
        "an empty method call": steps.call,
        "+ the class test": steps.class_test,
        "+ deque.append": steps.append,
        "+ the length test (= track()'s fast path)": steps.full_track,
        "+ a per-event counter (track() before)": steps.counted,
        "original: lock + deque (baseline)": steps.original,
    }
    figures = {
        name: ns * 1e9 / N
        for name, ns in interleaved_medians({n: loop(m) for n, m in names.items()}, number=200).items()
    }
    baseline = figures["original: lock + deque (baseline)"]
    rows = []
    previous = 0.0
    for name, value in figures.items():
        step = "" if name.startswith("original") else f"(+{value - previous:.0f} ns)"
        rows.append((name, f"{value:.0f} ns {step}", f"{value / baseline:.2f}× of the original"))
        previous = value
    print_table("track()'s fast path, step by step (ns per call, medians)", rows)
    floor = figures["+ deque.append"] / baseline
    print(
        f"\n  The floor for any Python-level track() that appends to a deque: {floor:.2f}× of the original "
        "(call + class test + append); the length test that decides evictions and wake-ups is the rest."
    )


if __name__ == "__main__":
    main()
