"""Key management: fingerprints, revocation by fingerprint or instance, last use recorded at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from mosaicstack_telemetry._protocol import EVENTS_PATH
from mosaicstack_telemetry.server import SQLiteStorage, create_key, hash_key, run_in_thread, verify_key
from mosaicstack_telemetry.server.keys import KeyRefusedError, KeyUsage, authenticate, revoke_keys, select_keys

from ._server_support import wire_event

NOW = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def storage() -> Iterator[SQLiteStorage]:
    with SQLiteStorage() as store:
        yield store


def test_a_fingerprint_is_the_start_of_the_stored_hash(storage: SQLiteStorage) -> None:
    key = create_key(storage, label="ci")
    (record,) = storage.list_keys()
    assert hash_key(key.key)[:8] == record.fingerprint
    assert (key.instance_id, "ci", None, None) == (
        record.instance_id,
        record.label,
        record.last_used_at,
        record.revoked_at,
    )
    assert key.key[:8] != record.fingerprint


def test_select_by_fingerprint_or_instance(storage: SQLiteStorage) -> None:
    instance = uuid4()
    first, second = create_key(storage, instance), create_key(storage, instance)
    other = create_key(storage)
    keys = storage.list_keys()
    fingerprint = hash_key(other.key)[:8]
    assert [hash_key(other.key)] == [k.key_sha256 for k in select_keys(keys, fingerprint.upper())]
    assert {hash_key(first.key), hash_key(second.key)} == {k.key_sha256 for k in select_keys(keys, str(instance))}
    assert [] == select_keys(keys, str(uuid4()))
    with pytest.raises(ValueError, match="neither a key fingerprint"):
        select_keys(keys, "xyz")


def test_an_ambiguous_fingerprint_is_refused(storage: SQLiteStorage) -> None:
    storage.add_key("abcdef01" + "0" * 56, uuid4())
    storage.add_key("abcdef01" + "1" * 56, uuid4())
    with pytest.raises(ValueError, match="names 2 keys: revoke by instance id"):
        select_keys(storage.list_keys(), "abcdef01")


def test_revoke_refuses_the_key_and_keeps_the_first_time(storage: SQLiteStorage) -> None:
    key = create_key(storage)
    spare = create_key(storage, key.instance_id)
    chosen, revoked = revoke_keys(storage, hash_key(key.key)[:8], now=NOW)
    assert ([hash_key(key.key)], 1) == ([k.key_sha256 for k in chosen], revoked)
    assert verify_key(storage, key.key) is None
    assert key.instance_id == verify_key(storage, spare.key)
    _, again = revoke_keys(storage, str(key.instance_id), now=NOW + timedelta(days=1))
    assert 1 == again  # only the spare was still valid
    assert {NOW, NOW + timedelta(days=1)} == {k.revoked_at for k in storage.list_keys()}
    with pytest.raises(ValueError, match="no key matches"):
        revoke_keys(storage, str(uuid4()))


def test_usage_is_written_at_most_once_per_interval(storage: SQLiteStorage) -> None:
    key = create_key(storage)
    (record,) = storage.list_keys()
    seconds = [0.0]
    moments = iter(NOW + timedelta(seconds=s) for s in range(100))
    usage = KeyUsage(storage, clock=lambda: seconds[0], now=lambda: next(moments))
    assert usage.used(record)
    seconds[0] = 59.9
    assert not usage.used(record)
    stored = storage.find_key(hash_key(key.key))
    assert stored is not None
    assert NOW == stored.last_used_at
    seconds[0] = 60.0
    assert usage.used(record)
    stored = storage.find_key(hash_key(key.key))
    assert stored is not None
    assert NOW + timedelta(seconds=1) == stored.last_used_at


def test_a_running_server_refuses_a_key_revoked_by_another_process(tmp_path: Path) -> None:
    """The server looks the key up on every request: a revocation written by another connection (the CLI) applies
    to the very next request. The key's last use is recorded."""
    path = tmp_path / "server.db"
    with SQLiteStorage(path) as storage, run_in_thread(storage=storage) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        body = {"events": [wire_event(server.instance_id)]}
        assert 200 == httpx.post(f"{server.url}{EVENTS_PATH}", json=body, headers=headers).status_code
        with SQLiteStorage(path) as elsewhere:
            (used,) = elsewhere.list_keys()
            assert used.last_used_at is not None
            revoke_keys(elsewhere, used.fingerprint)
        refused = httpx.post(f"{server.url}{EVENTS_PATH}", json=body, headers=headers)
        assert (403, {"detail": "revoked api key"}) == (refused.status_code, refused.json())
        assert 1 == storage.count_events()


def test_a_key_used_on_every_route_within_a_minute_is_recorded_once(
    storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API v1, its stats API and the /otlp mount share the server's one KeyUsage: one write a minute per key."""
    touched: list[str] = []
    touch = storage.touch_key

    def counting(key_sha256: str, used_at: datetime) -> None:
        touched.append(key_sha256)
        touch(key_sha256, used_at)

    monkeypatch.setattr(storage, "touch_key", counting)
    with run_in_thread(storage=storage) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        replies = [
            httpx.post(
                f"{server.url}{EVENTS_PATH}", json={"events": [wire_event(server.instance_id)]}, headers=headers
            ),
            httpx.post(f"{server.url}/otlp/v1/logs", json={"resourceLogs": []}, headers=headers),
            httpx.get(f"{server.url}/v1/stats/filters", headers=headers),
            httpx.post(f"{server.url}/otlp/v1/logs", json={"resourceLogs": []}, headers=headers),
        ]
        assert [200, 200, 200, 200] == [reply.status_code for reply in replies]
        assert [hash_key(server.api_key)] == touched
        (record,) = storage.list_keys()
        assert record.last_used_at is not None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (401, "missing Authorization header (expected: Bearer <api key>)", {"WWW-Authenticate": "Bearer"})),
        ("Basic dXNlcjpwYXNz", (401, "malformed Authorization header", {"WWW-Authenticate": "Bearer"})),
        ("Bearer not-a-key", (401, "malformed Authorization header", {"WWW-Authenticate": "Bearer"})),
        ("Bearer " + "ab" * 32, (403, "unknown api key", {})),
        ("revoked", (403, "revoked api key", {})),
    ],
    ids=["missing", "basic", "malformed", "unknown", "revoked"],
)
async def test_authenticate_refuses_with_the_status_detail_and_challenge(
    storage: SQLiteStorage, header: str | None, expected: tuple[int, str, dict[str, str]]
) -> None:
    if header == "revoked":
        key = create_key(storage)
        revoke_keys(storage, str(key.instance_id))
        header = f"Bearer {key.key}"
    usage = KeyUsage(storage)
    with pytest.raises(KeyRefusedError) as refused:
        await authenticate(storage, usage, header)
    status, detail, headers = expected
    assert (status, headers) == (refused.value.status, refused.value.headers)
    assert refused.value.detail.startswith(detail)
    assert all(record.last_used_at is None for record in storage.list_keys())  # a refused key's use is not noted


async def test_authenticate_answers_the_record_and_notes_its_use(storage: SQLiteStorage) -> None:
    key = create_key(storage)
    record = await authenticate(storage, KeyUsage(storage, now=lambda: NOW), f"  bearer {key.key.upper()} ")
    assert key.instance_id == record.instance_id
    stored = storage.find_key(hash_key(key.key))
    assert stored is not None
    assert NOW == stored.last_used_at
