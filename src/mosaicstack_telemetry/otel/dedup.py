"""A bounded set of record keys already seen: an exporter's retried request counts once.

Keeps the newest ``capacity`` keys (insertion order, the oldest forgotten first); a retry comes seconds after the
first send, so a window of many thousands of records is ample.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = ["SeenKeys"]


class SeenKeys:
    """``add(key)`` is ``True`` the first time a key is added within the window, ``False`` for a repeat."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._keys: dict[Hashable, None] = {}

    def add(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            del self._keys[next(iter(self._keys))]
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
