"""API keys: 64 hex characters bound to an instance UUID, stored as their SHA-256, checked in constant time.

Only the SHA-256 of a key is stored, so a leaked database does not leak usable keys (a key has 256 random bits: a
fast hash is enough, no password stretching needed). A presented key is hashed and the record looked up by that
hash; the lookup's timing depends only on the hash, which tells an attacker nothing about any key. The final
equality check is :func:`hmac.compare_digest` all the same, so a backend whose lookup is looser than byte equality
(collations, prefix indexes) cannot turn into a timing oracle.

Keys are compared case-insensitively (they are hex numbers): a key copied in upper case still works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from uuid import UUID, uuid4

import attrs

from .storage import Storage

__all__ = ["ApiKey", "create_key", "hash_key", "is_well_formed", "verify_key"]

_KEY = re.compile(r"[0-9a-fA-F]{64}")


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


def verify_key(storage: Storage, api_key: str) -> UUID | None:
    """The instance bound to ``api_key``, or ``None`` when the key is malformed or unknown (blocking: storage I/O)."""
    if not is_well_formed(api_key):
        return None
    digest = hash_key(api_key)
    record = storage.find_key(digest)
    if record is None or not hmac.compare_digest(record.key_sha256, digest):
        return None
    return record.instance_id
