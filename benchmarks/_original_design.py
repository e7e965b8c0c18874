"""The original SDK's design, modelled for the engine benchmarks: lock + deque ``track()``, pydantic events and a
threaded sync httpx sender that drains batches of 100 (as its README and API reference describe it)."""

from __future__ import annotations

import json
import threading
from collections import deque

import httpx
from _pydantic_baseline import PydanticEvent


class OriginalQueue:
    """The original ``EventQueue``: a ``threading.Lock`` around a bounded deque."""

    def __init__(self, max_size: int) -> None:
        self._lock = threading.Lock()
        self._deque: deque[PydanticEvent] = deque(maxlen=max_size)

    def put(self, event: PydanticEvent) -> None:
        with self._lock:
            self._deque.append(event)

    def drain(self, max_items: int) -> list[PydanticEvent]:
        with self._lock:
            count = min(max_items, len(self._deque))
            return [self._deque.popleft() for _ in range(count)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._deque)


class OriginalClient:
    """``track()`` as the original: enabled check, try/except, lock + deque put; a sender thread posts batches."""

    def __init__(self, url: str, max_size: int) -> None:
        self.enabled = True
        self.queue = OriginalQueue(max_size)
        self._url = url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.errors = 0

    def track(self, event: PydanticEvent) -> None:
        if not self.enabled:
            return
        try:
            self.queue.put(event)
        except Exception:
            self.errors += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while not self._stop.is_set() or len(self.queue):
                batch = self.queue.drain(100)
                if not batch:
                    self._stop.wait(0.001)
                    continue
                body = json.dumps({"events": [e.model_dump(mode="json") for e in batch]}).encode()
                http.post(self._url, content=body, headers={"content-type": "application/json"})
                self.sent += len(batch)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
