"""PostgreSQL's own side of the storage: its migrations, several processes at once, the URL and its password, the
backend chosen from a URL, and predictions equal to SQLite's for one dataset.

The storage contract itself runs on both backends in ``test_server_storage.py``. Each test gets a fresh database of
the session's throwaway cluster (``postgres_url``, :mod:`tests._postgres`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaicstack_telemetry import PredictionQuery, TaskCompletionEvent, TelemetryClient, TelemetryConfig
from mosaicstack_telemetry.server import ServerThread, SQLiteStorage, create_key, hash_key, run_in_thread
from mosaicstack_telemetry.server.backends import (
    StorageOpenError,
    describe_database,
    masked_url,
    open_storage,
    supports_workers,
)
from mosaicstack_telemetry.server.columns import COLUMN_NAMES, EVENT_COLUMNS, Kind
from mosaicstack_telemetry.server.migrations import SQLITE_MIGRATIONS, Migration, SchemaTooNewError
from mosaicstack_telemetry.server.pg_migrations import (
    POSTGRES_MIGRATIONS,
    VERSION_SLOTS,
    migrate_postgres,
    postgres_schema_version,
)
from mosaicstack_telemetry.server.postgres import CHUNK_ROWS, PostgresStorage, _chunks
from mosaicstack_telemetry.server.predictions import Predictor
from mosaicstack_telemetry.server.storage import Storage
from tests._postgres import PostgresCluster

from ._server_support import wire_event

NOW = datetime(2026, 2, 1, tzinfo=timezone.utc)

#: The PostgreSQL type each kind is stored as (information_schema's ``udt_name``).
_POSTGRES_TYPES = {
    Kind.UUID: "uuid",
    Kind.TEXT: "text",
    Kind.TIMESTAMP: "timestamptz",
    Kind.INTEGER: "int8",
    Kind.BOOLEAN: "bool",
    Kind.REAL: "float8",
    Kind.GATES: "_text",
}


def event(**fields: object) -> TaskCompletionEvent:
    return TaskCompletionEvent.model_validate(wire_event(uuid4(), **fields))


def with_password(url: str, password: str) -> str:
    """The cluster trusts loopback: a password in the URL is accepted and ignored, as a real one would be checked."""
    return url.replace("mosaic@", f"mosaic:{password}@", 1)


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query.encode()).fetchall()


# -- migrations -------------------------------------------------------------------------------------------------------


def test_a_new_database_gets_every_migration_with_sqlites_versions(postgres_url: str) -> None:
    with PostgresStorage(postgres_url):
        pass
    recorded = rows(postgres_url, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(m.version, m.name) for m in POSTGRES_MIGRATIONS] == recorded
    assert [m.version for m in SQLITE_MIGRATIONS] == [m.version for m in POSTGRES_MIGRATIONS]
    key = rows(
        postgres_url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = 'events'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
    )
    assert [("instance_id",), ("event_id",)] == key


def test_insert_statements_come_in_a_few_sizes() -> None:
    """A batch is cut into statements of at most CHUNK_ROWS rows, each padded to a power of two with a repeat of its
    last row: every row is sent, in order, and whatever the batch sizes, a connection prepares at most ten inserts."""
    assert CHUNK_ROWS * len(COLUMN_NAMES) <= 65_535
    sizes: set[int] = set()
    for count in [*range(1, 70), 100, 200, 511, 512, 513, 1_000, 2_500]:
        rows = [(row,) for row in range(count)]
        chunks = list(_chunks(rows))
        assert rows == list(dict.fromkeys(row for chunk in chunks for row in chunk))
        sizes.update(len(chunk) for chunk in chunks)
    assert {1 << power for power in range(CHUNK_ROWS.bit_length())} == sizes


def test_the_version_counters_are_the_slots_inserts_bump(postgres_url: str) -> None:
    """``event_versions`` holds one row per slot ``0 … VERSION_SLOTS - 1``: every backend pid modulo VERSION_SLOTS
    finds its row, so no insert's bump of the version is lost."""
    with PostgresStorage(postgres_url):
        pass
    assert [(slot, 0) for slot in range(VERSION_SLOTS)] == rows(
        postgres_url, "SELECT slot, events FROM event_versions ORDER BY slot"
    )


def test_the_migrated_postgres_table_has_exactly_the_model_columns(postgres_url: str) -> None:
    with PostgresStorage(postgres_url):
        pass
    table = {
        str(name): (str(udt), nullable == "YES")
        for name, udt, nullable in rows(
            postgres_url,
            "SELECT column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_name = 'events'",
        )
    }
    assert {column.name: (_POSTGRES_TYPES[column.kind], column.nullable) for column in EVENT_COLUMNS} == table


def test_a_database_newer_than_the_code_is_refused_untouched(postgres_url: str) -> None:
    with PostgresStorage(postgres_url) as storage:
        create_key(storage)
    newer = len(POSTGRES_MIGRATIONS) + 1
    with psycopg.connect(postgres_url) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (%s, 'from the future', now())", (newer,))
    before = rows(postgres_url, "SELECT * FROM schema_migrations ORDER BY version") + rows(
        postgres_url, "SELECT * FROM api_keys"
    )
    url = with_password(postgres_url, "hunter2")
    with pytest.raises(SchemaTooNewError) as raised:
        PostgresStorage(url)
    assert (
        f"the database {masked_url(url)} has schema version {newer}, newer than this code's {len(POSTGRES_MIGRATIONS)}:"
        " upgrade mosaicstack-telemetry to open it"
    ) == str(raised.value)
    assert "hunter2" not in str(raised.value)
    after = rows(postgres_url, "SELECT * FROM schema_migrations ORDER BY version") + rows(
        postgres_url, "SELECT * FROM api_keys"
    )
    assert before == after


def test_a_failing_migration_leaves_the_last_complete_version(postgres_url: str) -> None:
    broken = (
        Migration(1, "one", ("CREATE TABLE a (x int)",)),
        Migration(2, "two", ("CREATE TABLE b (x int)", "INSERT INTO no_such_table VALUES (1)")),
    )
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.UndefinedTable, match="no_such_table"):
            migrate_postgres(connection, broken)
        assert 1 == postgres_schema_version(connection)
        assert connection.execute("SELECT to_regclass('b')").fetchone() == (None,)
        assert [2] == migrate_postgres(connection, (broken[0], Migration(2, "two", ("CREATE TABLE b (x int)",))))
        assert [] == migrate_postgres(connection, (broken[0], Migration(2, "two", ())))


def test_processes_starting_at_once_migrate_once(postgres_url: str) -> None:
    """Six storages (as six workers would) open a new database at once: all open, each migration applied once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_it() -> None:
        try:
            barrier.wait(10)
            with PostgresStorage(postgres_url) as storage:
                storage.count_events()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [] == errors
    recorded = rows(postgres_url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [(m.version,) for m in POSTGRES_MIGRATIONS] == recorded


# -- several writers --------------------------------------------------------------------------------------------------


def test_concurrent_writers_store_every_event_once(postgres_url: str) -> None:
    """Two storages (two worker processes) insert overlapping batches at once, as retries racing their first attempt
    do: every event is stored once and reported stored by exactly one call; readers never see half a batch."""
    events = [event() for _ in range(400)]
    batches = [events[start : start + 50] for start in range(0, 400, 25)]  # every event in two batches
    first, second = PostgresStorage(postgres_url), PostgresStorage(postgres_url)
    reported: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def write(storage: Storage, mine: list[list[TaskCompletionEvent]]) -> None:
        try:
            reported.extend(sum(storage.insert_events(list(reversed(batch)), NOW)) for batch in mine)
        except BaseException as error:  # reported below
            errors.append(error)

    def read() -> None:
        try:
            while not done.is_set():
                with second.reader() as reader:
                    assert reader.version() == reader.count({})  # one snapshot: the counters match the rows
        except BaseException as error:  # reported below
            errors.append(error)

    try:
        writers = [
            threading.Thread(target=write, args=(first, batches)),
            threading.Thread(target=write, args=(second, batches[::-1])),
            threading.Thread(target=write, args=(second, batches[::2])),
        ]
        reader = threading.Thread(target=read)
        reader.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(60)
        done.set()
        reader.join(10)
        assert [] == errors
        assert 400 == sum(reported)
        assert 400 == first.count_events()
        assert all(first.fetch_event(e.instance_id, e.event_id) == e for e in events[:20])
    finally:
        first.close()
        second.close()


def test_connections_the_database_dropped_are_replaced(postgres_url: str) -> None:
    """After PostgreSQL ends every session (a restart, a failover), the next operations work on new connections."""
    with PostgresStorage(postgres_url) as storage:
        assert [True] == storage.insert_events([event()], NOW)
        rows(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
             " AND datname = current_database()")  # fmt: skip
        assert [True] == storage.insert_events([event()], NOW)
        assert 2 == storage.count_events()


def test_only_the_hash_is_stored(postgres_url: str) -> None:
    with PostgresStorage(postgres_url) as storage:
        key = create_key(storage)
    dump = repr(rows(postgres_url, "SELECT * FROM api_keys"))
    assert key.key not in dump
    assert hash_key(key.key) in dump


def test_the_reference_server_runs_on_a_database_url(postgres_url: str) -> None:
    """run_in_thread(database_url=…): the SDK's events land in PostgreSQL, and its predictions come back from it."""
    with run_in_thread(database_url=postgres_url) as server:
        assert isinstance(server.storage, PostgresStorage)
        config = TelemetryConfig(server_url=server.url, api_key=server.api_key, instance_id=str(server.instance_id))
        events = [
            TaskCompletionEvent.model_validate(wire_event(server.instance_id, actual_input_tokens=1_000 + n))
            for n in range(40)
        ]
        query = PredictionQuery(
            task_type="implementation", model="claude-sonnet-4-5", provider="anthropic", complexity="medium"
        )
        with TelemetryClient(config) as client:
            for stored in events:
                client.track(stored)
            assert client.flush()
            client.refresh_predictions_sync([query])
            answer = client.get_prediction(query)
        assert 40 == client.stats.sent
        assert 40 == server.storage.count_events(server.instance_id)
        assert answer is not None
        assert answer.prediction is not None
        assert (40, 1_019) == (answer.metadata.sample_size, answer.prediction.input_tokens.median)
    with pytest.raises(ValueError, match="not both"):
        ServerThread(storage=SQLiteStorage(), database_url=postgres_url)


# -- URLs -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@db:5432/telemetry", "postgresql://u:***@db:5432/telemetry"),
        ("postgresql://u@db/telemetry?sslmode=require", "postgresql://u@db/telemetry?sslmode=require"),
        (
            "postgres://u:p%40ss@db/t?password=x&sslmode=verify-full",
            "postgres://u:***@db/t?password=***&sslmode=verify-full",
        ),
        ("postgresql:///telemetry", "postgresql:///telemetry"),
        ("postgresql://db/t?password=hunter2", "postgresql://db/t?password=***"),
        ("postgresql:///t?user=x&password=hunter2", "postgresql:///t?user=x&password=***"),
        ("postgresql://u@db/t?sslpassword=k3y&sslmode=require", "postgresql://u@db/t?sslpassword=***&sslmode=require"),
        ("postgresql://db/t?PassWord=hunter2&pass%77ord=x", "postgresql://db/t?PassWord=***&pass%77ord=***"),
        ("host=db password=hunter2 dbname=t", "host=db password=*** dbname=t"),
        ("host=db password = 'hunter 2' dbname=t", "host=db password=*** dbname=t"),
    ],
)
def test_masked_url(url: str, shown: str) -> None:
    assert shown == masked_url(url)


def test_the_password_never_shows(postgres_url: str, postgres_cluster: PostgresCluster) -> None:
    url = with_password(postgres_url, "hunter2")
    with PostgresStorage(url) as storage:
        assert "hunter2" not in repr(storage)
        assert "hunter2" not in storage.url
        assert "***" in storage.url
    unreachable = f"postgresql://mosaic:hunter2@127.0.0.1:{postgres_cluster.port}/no_such_database"
    with pytest.raises(StorageOpenError) as raised:
        PostgresStorage(unreachable)
    assert "hunter2" not in str(raised.value)
    assert "no_such_database" in str(raised.value)
    assert describe_database(unreachable) == masked_url(unreachable)


def test_open_storage_chooses_the_backend_from_the_url(postgres_url: str, tmp_path: Path) -> None:
    opened = [
        open_storage(postgres_url),
        open_storage(f"sqlite:///{tmp_path}/a.db"),
        open_storage(tmp_path / "b.db"),
        open_storage("sqlite://"),
    ]
    try:
        assert [PostgresStorage, SQLiteStorage, SQLiteStorage, SQLiteStorage] == [type(s) for s in opened]
        assert (tmp_path / "a.db").exists()
        assert (tmp_path / "b.db").exists()
        assert ":memory:" == describe_database("sqlite://")
        assert str(tmp_path / "a.db") == describe_database(f"sqlite:///{tmp_path}/a.db")
    finally:
        for storage in opened:
            storage.close()
    assert supports_workers(postgres_url)
    assert not supports_workers(f"sqlite:///{tmp_path}/a.db")
    with pytest.raises(StorageOpenError, match="sqlite:///FILE"):
        open_storage("sqlite:relative.db")


@pytest.mark.parametrize("url", ["host=db password=hunter2 dbname=t", "hunter2.db", "mysql://root:hunter2@db/t"])
def test_a_string_that_is_not_a_database_url_is_refused_unrepeated(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A string is a URL (a SQLite file by path is a Path): a libpq keyword string is not opened as a file named
    with its password, and the message says which schemes are accepted without repeating what was given."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageOpenError) as raised:
        open_storage(url)
    assert "hunter2" not in str(raised.value)
    assert "postgresql://" in str(raised.value)
    assert "sqlite:///" in str(raised.value)
    with pytest.raises(StorageOpenError):
        ServerThread(database_url=url)
    assert [] == list(tmp_path.iterdir())


# -- predictions ------------------------------------------------------------------------------------------------------

_COMBINATIONS = [
    ("implementation", "claude-sonnet-4-5", "anthropic", "medium", 400),
    ("implementation", "claude-sonnet-4-5", "anthropic", "high", 55),
    ("implementation", "gpt-5", "openai", "medium", 12),
    ("debugging", "claude-opus-4-1", "anthropic", "low", 7),
    ("debugging", "gemini-2.5-pro", "google", "critical", 3),
    ("testing", "gpt-5-mini", "openai", "low", 1),
]


def parity_dataset(seed: int) -> list[TaskCompletionEvent]:
    """Skewed groups of every size around the fallback thresholds, values with many ties and zero estimates."""
    rng = random.Random(seed)  # noqa: S311 - test data
    return [
        event(
            task_type=task_type,
            model=model,
            provider=provider,
            complexity=complexity,
            actual_input_tokens=rng.choice([0, 100, 100, 5_000]) + rng.randrange(0, 50_000, 250),
            actual_output_tokens=rng.randrange(0, 9_000, 100),
            estimated_input_tokens=rng.choice([0, rng.randrange(1, 60_000)]),
            estimated_output_tokens=rng.choice([0, rng.randrange(1, 9_000)]),
            actual_cost_usd_micros=rng.randrange(0, 2_000_000, 1_000),
            task_duration_ms=rng.randrange(1, 3_600_000),
            quality_gate_passed=rng.random() < 0.7,
            outcome=rng.choice(["success", "success", "failure", "partial", "timeout"]),
        )
        for task_type, model, provider, complexity, count in _COMBINATIONS
        for _ in range(count)
    ]


def parity_queries() -> list[PredictionQuery]:
    queries = [PredictionQuery(task_type=t, model=m, provider=p, complexity=c) for t, m, p, c, _ in _COMBINATIONS]
    queries += [
        PredictionQuery(task_type="implementation", model="claude-sonnet-4-5", provider="anthropic", complexity="low"),
        PredictionQuery(task_type="implementation", model="o4-mini", provider="openai", complexity="critical"),
        PredictionQuery(task_type="debugging", model="gpt-5", provider="openai", complexity="medium"),
        PredictionQuery(task_type="testing", model="gemini-2.5-flash", provider="google", complexity="high"),
        PredictionQuery(task_type="security_audit", model="gpt-5", provider="openai", complexity="low"),
    ]
    return queries


@pytest.fixture
def postgres_storage(postgres_url: str) -> Iterator[PostgresStorage]:
    with PostgresStorage(postgres_url) as storage:
        yield storage


_METRIC_VALUES = st.integers(min_value=0, max_value=5) | st.integers(min_value=0, max_value=10_000_000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(
        st.tuples(st.sampled_from(["implementation", "testing"]), st.sampled_from(["gpt-5", "o4-mini"])),
        min_size=0,
        max_size=30,
    ),
    durations=st.lists(_METRIC_VALUES, min_size=30, max_size=30),
    tokens=st.lists(_METRIC_VALUES, min_size=30, max_size=30),
    ranks=st.lists(st.integers(min_value=1, max_value=35), max_size=6),
)
def test_summaries_are_the_same_on_both_backends(
    postgres_storage: PostgresStorage,
    groups: list[tuple[str, str]],
    durations: list[int],
    tokens: list[int],
    ranks: list[int],
) -> None:
    """Any events (ties, zeros, huge values), any ranks (past the group too): both backends summarize alike."""
    batch = [
        event(
            task_type=task_type,
            model=model,
            provider="openai",
            task_duration_ms=duration,
            actual_input_tokens=token,
            estimated_input_tokens=duration % 3,
        )
        for (task_type, model), duration, token in zip(groups, durations, tokens, strict=False)
    ]
    with postgres_storage._connection() as connection:
        connection.execute("TRUNCATE events")  # one database for every example: emptied before each
    dimension_sets: list[dict[str, str]] = [
        {},
        {"task_type": "testing"},
        {"task_type": "implementation", "model": "gpt-5"},
    ]
    wanted = {"task_duration_ms": ranks, "actual_input_tokens": ranks[:2]}
    summaries = []
    with SQLiteStorage() as sqlite:
        for storage in (sqlite, postgres_storage):
            storage.insert_events(batch, NOW)
            with storage.reader() as reader:
                summaries.append([reader.summarize(dimensions, wanted) for dimensions in dimension_sets])
    assert summaries[0] == summaries[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_predictions_are_the_same_on_both_backends(postgres_url: str, seed: int) -> None:
    """One dataset through both backends: every field of every prediction is equal (exact fallbacks, percentiles,
    correction factors, rates, notes), and the answers are real ones (levels 0 to 3 and no data)."""
    dataset = parity_dataset(seed)
    answers = []
    for storage in (SQLiteStorage(), PostgresStorage(postgres_url)):
        with storage:
            for start in range(0, len(dataset), 100):
                storage.insert_events(dataset[start : start + 100], NOW)
            predictor = Predictor(storage, clock=lambda: NOW)
            answers.append(predictor.predict_batch(parity_queries()))
    on_sqlite, on_postgres = answers
    assert on_sqlite == on_postgres
    levels = {answer.metadata.fallback_level for answer in on_sqlite}
    assert {-1, 0, 1, 2, 3} <= levels
