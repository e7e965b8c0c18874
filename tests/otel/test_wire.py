"""OTLP values, JSON decoding, body limits and the quality-gate patterns."""

from __future__ import annotations

import gzip
import json
import zlib
from decimal import Decimal
from typing import Any

import pytest

from mosaicstack_telemetry.enums import QualityGate
from mosaicstack_telemetry.otel.body import BodyError, decompress
from mosaicstack_telemetry.otel.decode import JSON, BadRequestError, check_request, decode_logs
from mosaicstack_telemetry.otel.dedup import SeenKeys
from mosaicstack_telemetry.otel.gates import gates_of
from mosaicstack_telemetry.otel.values import MalformedValueError, any_value, as_bool, as_decimal, as_int

from .claude import BASE_NS, encode, user_prompt


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ({"stringValue": "x"}, "x"),
        ({"intValue": "1200"}, 1200),
        ({"intValue": 1200}, 1200),
        ({"doubleValue": 0.5}, 0.5),
        ({"doubleValue": 3}, 3.0),
        ({"boolValue": True}, True),
        ({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}}, [1, "a"]),
        ({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}}, {"k": False}),
        ({"bytesValue": "aGk="}, b"hi"),
        ({}, None),
        ({"futureValue": 1}, None),
    ],
)
def test_any_value(encoded: dict[str, Any], expected: Any) -> None:
    assert expected == any_value(encoded)


@pytest.mark.parametrize(
    "encoded", [{"doubleValue": {}}, {"intValue": "1.5"}, {"intValue": True}, {"stringValue": 3}, {"boolValue": "yes"}]
)
def test_malformed_values_raise(encoded: dict[str, Any]) -> None:
    with pytest.raises(MalformedValueError):
        any_value(encoded, "k")


def test_coercions_accept_every_documented_form() -> None:
    assert [12, 12, 12, None] == [as_int(v, "n") for v in (12, "12", 12.0, None)]
    assert Decimal("0.0123") == as_decimal(0.0123, "c") == as_decimal("0.0123", "c")
    assert [True, False, True, None] == [as_bool(v, "b") for v in (True, "false", "TRUE", None)]
    for bad_int in ("12.5", "many", True, float("nan")):
        with pytest.raises(MalformedValueError, match="n"):
            as_int(bad_int, "n")
    with pytest.raises(MalformedValueError, match="b must be true or false"):
        as_bool("1", "b")


def test_record_time_falls_back_to_observed_time() -> None:
    record = user_prompt(0, 1)
    del record["timeUnixNano"]
    decoded = decode_logs(encode([record]), JSON)
    assert BASE_NS + 1000 == decoded.records[0].time_unix_nano
    assert "claude_code.user_prompt" == decoded.records[0].body


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"not json", "not JSON"), (b"[]", "JSON object"), (b'{"resourceLogs": {}}', "resourceLogs must be a list")],
)
def test_undecodable_bodies_are_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        decode_logs(body, JSON)


def test_metrics_and_traces_json_are_checked() -> None:
    check_request(b'{"resourceMetrics": []}', JSON, "metrics")
    check_request(b"{}", JSON, "traces")
    with pytest.raises(BadRequestError):
        check_request(b'{"resourceSpans": 1}', JSON, "traces")


def test_decompression_is_bounded() -> None:
    payload = json.dumps({"resourceLogs": []}).encode()
    assert payload == decompress(gzip.compress(payload), "gzip", 1000)
    assert payload == decompress(zlib.compress(payload), "deflate", 1000)
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(BodyError) as too_big:
        decompress(bomb, "gzip", 1_000_000)
    assert 413 == too_big.value.status
    with pytest.raises(BodyError) as unknown:
        decompress(payload, "br", 1000)
    assert 415 == unknown.value.status
    with pytest.raises(BodyError) as broken:
        decompress(gzip.compress(payload)[:-10], "gzip", 1000)
    assert 400 == broken.value.status


@pytest.mark.parametrize(
    ("command", "gates"),
    [
        ("pytest -q tests/", {QualityGate.TEST}),
        ("cd pkg && .venv/bin/python -m pytest --cov=src", {QualityGate.TEST, QualityGate.COVERAGE}),
        ("npm run lint", {QualityGate.LINT}),
        ("npm test", {QualityGate.TEST}),
        ("ruff check . && ruff format --check .", {QualityGate.LINT}),
        ("uv run mypy src", {QualityGate.TYPECHECK}),
        ("npx tsc --noEmit", {QualityGate.TYPECHECK}),
        ("cargo build --release", {QualityGate.BUILD}),
        ("make", {QualityGate.BUILD}),
        ("go test ./... -cover", {QualityGate.TEST, QualityGate.COVERAGE}),
        ("bandit -r src", {QualityGate.SECURITY}),
        ("pip-audit", {QualityGate.SECURITY}),
        ("git status", set()),
        ("cat pytest.ini", set()),
        ("echo mypy-notes", set()),
    ],
)
def test_gate_patterns(command: str, gates: set[QualityGate]) -> None:
    assert gates == set(gates_of(command))


def test_seen_keys_forget_the_oldest_past_capacity() -> None:
    seen = SeenKeys(2)
    assert [True, False, True, True] == [seen.add(1), seen.add(1), seen.add(2), seen.add(3)]
    assert (1 not in seen, 2 in seen, 3 in seen, 2) == (True, True, True, len(seen))
    with pytest.raises(ValueError, match="capacity must be at least 1, got 0"):
        SeenKeys(0)
