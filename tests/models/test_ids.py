"""``_ids.new_event_id``: random version-4 UUIDs, equal in every way to ``uuid.uuid4()``'s, and fork-safe."""

from __future__ import annotations

import copy
import os
import pickle
import random
import uuid
import warnings

import pytest

from mosaicstack_telemetry._ids import new_event_id


def test_is_a_version_4_rfc_4122_uuid() -> None:
    """Every id is a ``uuid.UUID`` of version 4 with the RFC 4122 variant."""
    for _ in range(1000):
        event_id = new_event_id()
        assert uuid.UUID is type(event_id)
        assert 4 == event_id.version
        assert uuid.RFC_4122 == event_id.variant
        assert "4" == str(event_id)[14]
        assert str(event_id)[19] in "89ab"


def test_behaves_like_a_uuid4() -> None:
    """Equality, hash, str/hex/bytes/int round trips, ordering, copy and pickle are those of uuid.UUID."""
    event_id = new_event_id()
    parsed = uuid.UUID(str(event_id))
    assert parsed == event_id
    assert hash(parsed) == hash(event_id)
    assert {event_id: 1}[parsed] == 1
    assert event_id == uuid.UUID(hex=event_id.hex)
    assert event_id == uuid.UUID(bytes=event_id.bytes)
    assert event_id == uuid.UUID(int=event_id.int)
    assert str(event_id) == str(uuid.UUID(event_id.urn))
    assert repr(parsed) == repr(event_id)
    assert event_id == copy.copy(event_id) == copy.deepcopy(event_id)
    assert event_id == pickle.loads(pickle.dumps(event_id))  # noqa: S301 - our own bytes
    assert uuid.SafeUUID.unknown == event_id.is_safe
    other = new_event_id()
    assert (event_id < other) == (event_id.int < other.int)
    with pytest.raises(TypeError):
        event_id.int = 5  # type: ignore[misc]


def test_unique_over_many_calls() -> None:
    """100 000 ids in a row are all distinct."""
    ids = {new_event_id() for _ in range(100_000)}
    assert 100_000 == len(ids)


def test_all_random_bits_vary() -> None:
    """Each of the 122 random bits takes both values over a few thousand ids (no stuck bits)."""
    fixed = (0xF << 76) | (0x3 << 62)
    seen_one = 0
    seen_zero = 0
    for _ in range(4000):
        value = new_event_id().int
        seen_one |= value
        seen_zero |= ~value
    random_bits = ((1 << 128) - 1) & ~fixed
    assert random_bits == seen_one & seen_zero & random_bits


def test_global_random_seed_does_not_repeat_ids() -> None:
    """``random.seed(42)`` by the application does not make ids repeat (the generator is private)."""
    state = random.getstate()
    try:
        random.seed(42)
        first = new_event_id()
        random.seed(42)
        second = new_event_id()
    finally:
        random.setstate(state)
    assert first != second


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_repeat_the_parents_ids() -> None:
    """A forked child's ids differ from the ids the parent makes next (the generator is re-seeded in the child)."""
    count = 16
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads running
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage is not saved by os._exit
        status = 1
        try:
            os.close(read_end)
            payload = b"".join(new_event_id().bytes for _ in range(count))
            while payload:
                payload = payload[os.write(write_end, payload) :]
            os.close(write_end)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    parent_ids = [new_event_id() for _ in range(count)]
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read():
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert 0 == os.waitstatus_to_exitcode(status)
    data = b"".join(chunks)
    assert 16 * count == len(data)
    child_ids = [uuid.UUID(bytes=data[i : i + 16]) for i in range(0, len(data), 16)]
    assert all(4 == child_id.version for child_id in child_ids)
    assert set(child_ids).isdisjoint(parent_ids)
