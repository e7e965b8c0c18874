"""API keys: 64 hex characters bound to an instance UUID, stored as their SHA-256, checked in constant time.

Only the SHA-256 of a key is stored, so a leaked database does not leak usable keys (a key has 256 random bits: a
fast hash is enough, no password stretching needed). A presented key is hashed and the record looked up by that
hash; the lookup's timing depends only on the hash, which tells an attacker nothing about any key. The final
equality check is :func:`hmac.compare_digest` all the same, so a backend whose lookup is looser than byte equality
(collations, prefix indexes) cannot turn into a timing oracle.

Keys are compared case-insensitively (they are hex numbers): a key copied in upper case still works.

Keys are managed without ever showing them again: a key is named by its *fingerprint*, the first 8 hex digits of its
stored hash (:attr:`~.storage.KeyRecord.fingerprint`), or by its instance. :func:`revoke_keys` revokes by either; a
revoked key is refused from the next request on (every request looks its key up, nothing caches it).
:class:`KeyUsage` records when each key was last used, writing at most once a minute per key.

:func:`authenticate` is the one check of a request's ``Authorization: Bearer <api key>`` header, for API v1, its
``/v1/stats`` read API and the ``/otlp`` mount alike: missing or malformed → 401 (with a ``WWW-Authenticate: Bearer``
challenge), unknown or revoked key → 403, each as a :class:`KeyRefusedError` that the caller answers in its own
format. A server keeps one :class:`KeyUsage` for all of them, so a key used on several routes is still written at
most once a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from uuid import UUID, uuid4

import anyio.to_thread
import attrs

from .storage import KeyRecord, Storage

__all__ = [
    "USAGE_INTERVAL_SECONDS",
    "ApiKey",
    "KeyRefusedError",
    "KeyUsage",
    "authenticate",
    "create_key",
    "find_key",
    "hash_key",
    "is_well_formed",
    "revoke_keys",
    "select_keys",
    "verify_key",
]

_KEY = re.compile(r"[0-9a-fA-F]{64}")
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{8}")
#: A key's ``last_used_at`` is written at most this often (seconds): a busy key costs one write a minute.
USAGE_INTERVAL_SECONDS = 60.0

_log = logging.getLogger("mosaicstack_telemetry.server")


def is_well_formed(api_key: str) -> bool:
    """Whether ``api_key`` is 64 hex characters (the documented format)."""
    return _KEY.fullmatch(api_key) is not None


def hash_key(api_key: str) -> str:
    """The SHA-256 (hex) under which a well-formed key is stored."""
    return hashlib.sha256(api_key.lower().encode("ascii")).hexdigest()


@attrs.frozen
class ApiKey:
    """A key as issued: the secret (shown once, never stored) and the instance it belongs to."""

    key: str = attrs.field(repr=False)
    instance_id: UUID
    label: str | None = None


def create_key(
    storage: Storage,
    instance_id: UUID | str | None = None,
    *,
    label: str | None = None,
    key: str | None = None,
) -> ApiKey:
    """Issue a key bound to ``instance_id`` (a new random UUID when ``None``) and store its hash.

    :param key: use this key instead of a random one (fixed keys for demos and reproducible tests); it must be 64
        hex characters.
    :raises ValueError: for a malformed ``key`` or ``instance_id``.
    """
    if key is None:
        key = secrets.token_hex(32)
    elif not is_well_formed(key):
        raise ValueError("key must be 64 hexadecimal characters")
    instance = uuid4() if instance_id is None else UUID(str(instance_id))
    storage.add_key(hash_key(key), instance, label)
    return ApiKey(key=key.lower(), instance_id=instance, label=label)


def find_key(storage: Storage, api_key: str) -> KeyRecord | None:
    """The stored record of ``api_key`` (revoked or not), or ``None`` when it is malformed or unknown (blocking)."""
    if not is_well_formed(api_key):
        return None
    digest = hash_key(api_key)
    record = storage.find_key(digest)
    if record is None or not hmac.compare_digest(record.key_sha256, digest):
        return None
    return record


def verify_key(storage: Storage, api_key: str) -> UUID | None:
    """The instance bound to ``api_key``, or ``None`` when the key is malformed, unknown or revoked (blocking)."""
    record = find_key(storage, api_key)
    if record is None or record.revoked:
        return None
    return record.instance_id


def select_keys(keys: list[KeyRecord], selector: str) -> list[KeyRecord]:
    """The keys ``selector`` names: 8 hex digits name one key by fingerprint, a UUID every key of that instance.

    :raises ValueError: a selector that is neither, a fingerprint two keys share (name them by instance instead).
    """
    selector = selector.strip()
    if _FINGERPRINT.fullmatch(selector):
        chosen = [key for key in keys if key.fingerprint == selector.lower()]
        if len(chosen) > 1:
            raise ValueError(f"fingerprint {selector!r} names {len(chosen)} keys: revoke by instance id")
        return chosen
    try:
        instance = UUID(selector)
    except ValueError:
        raise ValueError(
            f"{selector!r} is neither a key fingerprint (8 hexadecimal digits) nor an instance id (a UUID)"
        ) from None
    return [key for key in keys if key.instance_id == instance]


def revoke_keys(storage: Storage, selector: str, *, now: datetime | None = None) -> tuple[list[KeyRecord], int]:
    """Revoke the keys ``selector`` names (:func:`select_keys`): the keys named, and how many were revoked now
    (the others were revoked already). Blocking: storage I/O.

    :raises ValueError: a bad selector, or one that names no key.
    """
    chosen = select_keys(storage.list_keys(), selector)
    if not chosen:
        raise ValueError(f"no key matches {selector.strip()!r}")
    moment = datetime.now(timezone.utc) if now is None else now
    revoked = storage.revoke_keys([key.key_sha256 for key in chosen], moment)
    return chosen, revoked


class KeyUsage:
    """Records each key's ``last_used_at``, writing at most once per ``interval`` seconds per key. Thread-safe.

    :param clock: monotonic seconds, for the interval (injectable for tests).
    :param now: aware "now", the time written.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        interval: float = USAGE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._storage = storage
        self._interval = interval
        self._clock = clock
        self._now = now
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def used(self, record: KeyRecord) -> bool:
        """Note that ``record``'s key authenticated a request; whether this call wrote it (blocking when it does)."""
        at = self._clock()
        with self._lock:
            last = self._written.get(record.key_sha256)
            if last is not None and at - last < self._interval:
                return False
            self._written[record.key_sha256] = at
        self._storage.touch_key(record.key_sha256, self._now())
        return True


class KeyRefusedError(Exception):
    """A request :func:`authenticate` refuses: answer ``status`` (401 or 403) with ``detail`` and ``headers``."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def _unauthorized(detail: str) -> KeyRefusedError:
    return KeyRefusedError(401, detail, {"WWW-Authenticate": "Bearer"})


def _look_up(storage: Storage, usage: KeyUsage, api_key: str) -> KeyRecord | None:
    """The key's record, its use noted (blocking). Recording the use never fails a request."""
    record = find_key(storage, api_key)
    if record is not None and not record.revoked:
        try:
            usage.used(record)
        except Exception:  # a busy database must not cost the request; the next minute tries again
            _log.warning("could not record the use of key %s", record.fingerprint, exc_info=True)
    return record


async def authenticate(storage: Storage, usage: KeyUsage, header: str | None) -> KeyRecord:
    """The record of the key an ``Authorization`` header value (``Bearer <api key>``) presents, its use noted in
    ``usage``. The header is read on the caller's loop, the key looked up on a worker thread (every call: nothing
    caches a key, so a revocation applies to the next request).

    :raises KeyRefusedError: 401 for a missing header, another scheme or a malformed key; 403 for an unknown or
        revoked key. The key itself is never in the error.
    """
    if header is None:
        raise _unauthorized("missing Authorization header (expected: Bearer <api key>)")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not is_well_formed(token):
        raise _unauthorized("malformed Authorization header (expected: Bearer <64 hexadecimal characters>)")
    record = await anyio.to_thread.run_sync(_look_up, storage, usage, token)
    if record is None:
        raise KeyRefusedError(403, "unknown api key")
    if record.revoked:
        raise KeyRefusedError(403, "revoked api key")
    return record
