"""Error messages stay short and say what is wrong, even for odd input."""

from __future__ import annotations

import pytest

from mosaicstack_telemetry import BatchEventRequest, EventBuilder, TelemetryConfig, ValidationError

INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"


def test_a_too_large_batch_gives_a_short_message() -> None:
    """101 events: the message says how many and stays readable (the list's repr is cut)."""
    events = [EventBuilder(INSTANCE_ID).build() for _ in range(101)]
    with pytest.raises(ValidationError) as caught:
        BatchEventRequest(events=events)
    (line,) = caught.value.errors
    assert line.endswith("has 101 items, expected 1..100")
    assert len(line) < 200


def test_a_string_for_a_gate_list_is_not_split_into_letters() -> None:
    """quality(gates_run="lint") is reported as not a list, not as the gates 'l', 'i', 'n', 't'."""
    with pytest.raises(ValidationError) as caught:
        EventBuilder(INSTANCE_ID).quality(passed=True, gates_run="lint").build()
    assert ["quality_gates_run='lint' is not a list"] == list(caught.value.errors)


def test_a_server_url_of_the_wrong_type_is_named_with_its_value() -> None:
    """validate() says server_url=123 must be a string (not that it is missing)."""
    config = TelemetryConfig(server_url=123, api_key="a" * 64, instance_id=INSTANCE_ID)  # type: ignore[arg-type]
    assert ["server_url=123 must be a string"] == config.validate()
