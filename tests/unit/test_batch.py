"""Batches: a batch from memory and one from the spool give the same request body for the same events, and batches
are told apart by identity (two never hold the same events, even with equal contents)."""

from __future__ import annotations

import json

from mosaicstack_telemetry import EventBuilder
from mosaicstack_telemetry._batch import MemoryBatch, SpooledBatch
from mosaicstack_telemetry._wire import dumps_each
from tests.unit.fake_server import INSTANCE_ID


def test_memory_and_spooled_batches_send_the_same_body() -> None:
    events = [EventBuilder(INSTANCE_ID).duration_ms(index).build() for index in range(3)]
    from_memory = MemoryBatch(events)
    from_spool = SpooledBatch(enumerate(dumps_each(events)))
    assert 3 == len(from_memory) == len(from_spool)
    assert json.loads(from_memory.request_body()) == json.loads(from_spool.request_body())
    assert [str(event.event_id) for event in events] == [
        wire["event_id"] for wire in json.loads(from_spool.request_body())["events"]
    ]
    assert [0, 1, 2] == from_spool.seqs
    assert sum(map(len, from_spool.bodies)) == from_spool.size


def test_batches_are_told_apart_by_identity() -> None:
    one, other = SpooledBatch([(1, b"{}")]), SpooledBatch([(1, b"{}")])
    assert one != other
    assert 2 == len({one, other, one})
