"""What happens at ``fork()``: every live client resets itself in the child, and spools hold still meanwhile.

* ``before``: each spool's SQLite calls are held (the one in progress finishes, no other starts);
* ``after_in_parent``: released;
* ``after_in_child``: released, then every client forgets what the parent owns.

Clients are held weakly: the hook keeps none alive. Where ``os.register_at_fork`` does not exist (Windows, which does
not fork) nothing is registered; ``track()``'s process-id check covers servers that fork without running hooks.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

from ._spool import Spool

__all__ = ["ForkAware", "watch"]


class ForkAware(Protocol):
    """What the hooks need of a client."""

    _spool: Spool | None

    def _after_fork_in_child(self) -> None: ...


_LIVE: weakref.WeakSet[ForkAware] = weakref.WeakSet()
#: Spools held across a fork, released in the parent and the child.
_HELD: list[Spool] = []


def watch(client: ForkAware) -> None:
    """Reset ``client`` in every forked child (for as long as it lives)."""
    _LIVE.add(client)


def _hold_spools() -> None:
    for client in list(_LIVE):
        spool = client._spool
        if spool is not None:
            spool.hold_for_fork()
            _HELD.append(spool)


def _release_spools() -> None:
    while _HELD:
        _HELD.pop().release_after_fork()


def _reset_in_child() -> None:
    _release_spools()  # the child drops these spools, but a lock left held would be a trap
    for client in list(_LIVE):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=_hold_spools, after_in_parent=_release_spools, after_in_child=_reset_in_child)
