"""Random (version 4) event ids, cheaper than :func:`uuid.uuid4`.

The 122 random bits come from a private :class:`random.Random` seeded from :func:`os.urandom` — an event id needs
uniqueness, not unpredictability (it is sent in the clear next to the event):

* private, so an application calling ``random.seed(42)`` cannot make ids repeat across processes (the server would
  reject the repeats as duplicates);
* re-seeded in a forked child, which would otherwise replay its parent's sequence.
"""

from __future__ import annotations

import os
import random
from uuid import UUID, SafeUUID

__all__ = ["new_event_id"]

_random = random.Random()  # noqa: S311 - ids must be unique, not secret (see the module docstring)
os.register_at_fork(after_in_child=_random.seed)

# RFC 4122 version 4: version nibble 0100 at bits 76-79, variant 10 at bits 62-63.
_CLEAR = ~((0xF << 76) | (0x3 << 62))
_VERSION_4 = (0x4 << 76) | (0x2 << 62)

_new = object.__new__
_set = object.__setattr__  # UUID forbids attribute assignment; its own __init__ sets its two slots this way


def new_event_id() -> UUID:
    """A new random version-4 UUID, equal in every way to one from :func:`uuid.uuid4`."""
    uuid = _new(UUID)
    _set(uuid, "int", (_random.getrandbits(128) & _CLEAR) | _VERSION_4)
    _set(uuid, "is_safe", SafeUUID.unknown)
    return uuid
