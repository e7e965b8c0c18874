"""Where ``track()``'s nanoseconds go: the cost of each step of its fast path, built up one step at a time.

Run: ``python benchmarks/bench_track_anatomy.py`` (also part of ``nox -s bench``). Each candidate is a method of the
same shape as ``TelemetryClient.track``, adding one step to the one before; they are timed round-robin in one run,
with the original design's lock + deque ``track()`` as the baseline. The differences show what each step costs and
what is left that no Python-level ``track()`` can avoid (the call itself, the class test, the append).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from _original_design import OriginalClient
from _timing import interleaved_medians, print_table

N = 1000


class _Waker:
    pending = True


class _Core:
    waker = _Waker()


class Steps:
    """``track()`` reduced to its first k steps, one method per k."""

    def __init__(self) -> None:
        self._accepted: type = object
        self._deque: deque[Any] = deque(maxlen=10_000_000)
        self._append = self._deque.append
        self._count_append = itertools.count().__next__
        self._waiting = self._deque.__len__
        self._full_batch = 100
        self._max_size = 10_000_000
        self._wake_at = self._max_size  # a wake is pending: the state while the core has not drained a full batch
        self._core = _Core()
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
        """The same statements as ``TelemetryClient.track``'s fast path (past a full batch, with a wake pending)."""
        try:
            if event.__class__ is self._accepted:
                self._append(event)
                waiting = self._waiting()
                if waiting == 1 or waiting >= self._wake_at:
                    self.errors += 1  # never taken here: the wake path
        except Exception:
            self.errors += 1

    def counted(self, event: Any) -> None:
        """``track()`` before this version: a per-event append counter (one ``count.__next__``), and past a full
        batch the pending flag read through the waker on every event."""
        try:
            if event.__class__ is self._accepted:
                self._append(event)
                self._count_append()
                waiting = self._waiting()
                if waiting == 1 or waiting >= self._full_batch:
                    if not self._core.waker.pending:
                        self.errors += 1
                    if waiting >= self._max_size:
                        self.errors += 1
        except Exception:
            self.errors += 1


def main() -> None:
    steps = Steps()
    original = OriginalClient("http://127.0.0.1:9", max_size=10_000_000)  # the model bench_engine measures too
    event = object()
    events = [event] * N

    def loop(method: Any) -> Any:
        def run() -> None:
            for item in events:
                method(item)
            steps._deque.clear()
            original.queue._deque.clear()

        return run

    names = {
        "an empty method call": steps.call,
        "+ the class test": steps.class_test,
        "+ deque.append": steps.append,
        "+ the length test (= track()'s fast path)": steps.full_track,
        "track() before (a per-event counter, the flag via the waker)": steps.counted,
        "original: lock + deque (baseline)": original.track,
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
