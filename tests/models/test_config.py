"""TelemetryConfig: the documented fields and defaults, environment rules, validate(), and the api key kept secret."""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any
from uuid import UUID

import pytest

from mosaicstack_telemetry import TelemetryConfig, TelemetryError, __version__
from mosaicstack_telemetry import config as config_module

from ._support import API_KEY, ENV_VARS, INSTANCE_ID

SERVER_URL = "https://tel-api.mosaicstack.dev"
# A valid key that appears nowhere else, so finding it in a text can only mean it leaked.
SECRET_KEY = "0123456789abcdef" * 3 + "fedcba9876543210"

# The reference's "Fields" table (plus shutdown_timeout_seconds and on_error), in declaration order.
DOCUMENTED_DEFAULTS: dict[str, Any] = {
    "server_url": "",
    "api_key": "",
    "instance_id": "",
    "enabled": True,
    "submit_interval_seconds": 300.0,
    "max_queue_size": 1000,
    "batch_size": 100,
    "request_timeout_seconds": 10.0,
    "prediction_cache_ttl_seconds": 21600.0,
    "dry_run": False,
    "max_retries": 3,
    "user_agent": "mosaicstack-telemetry-python/0.1.0",
    "shutdown_timeout_seconds": 10.0,
    "on_error": None,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every MOSAIC_TELEMETRY_* variable, so only what a test sets is seen."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def good_config(**overrides: Any) -> TelemetryConfig:
    """A valid configuration with ``overrides``."""
    values: dict[str, Any] = {
        "server_url": SERVER_URL,
        "api_key": API_KEY,
        "instance_id": INSTANCE_ID,
    }
    values.update(overrides)
    return TelemetryConfig(**values)


# -- fields and defaults ---------------------------------------------------------------------------------------------


def test_fields_and_defaults_are_the_documented_ones() -> None:
    """The documented fields come first, in the documented order, with the documented defaults."""
    # Fields added by later issues may follow them (positional construction of the documented ones is unchanged),
    # each with a default, so ``TelemetryConfig()`` still works.
    config = TelemetryConfig()
    fields = dataclasses.fields(TelemetryConfig)
    documented = fields[: len(DOCUMENTED_DEFAULTS)]
    assert DOCUMENTED_DEFAULTS == {field.name: getattr(config, field.name) for field in documented}
    assert list(DOCUMENTED_DEFAULTS) == [field.name for field in documented]
    for field in fields[len(DOCUMENTED_DEFAULTS) :]:
        assert dataclasses.MISSING is not field.default or dataclasses.MISSING is not field.default_factory


def test_user_agent_carries_the_package_version() -> None:
    """The default User-Agent is ``mosaicstack-telemetry-python/<version>``."""
    assert f"mosaicstack-telemetry-python/{__version__}" == TelemetryConfig().user_agent


def test_is_a_plain_dataclass_with_positional_fields() -> None:
    """It is a stdlib dataclass; the first fields can be given positionally, as the original allowed."""
    assert dataclasses.is_dataclass(TelemetryConfig)
    config = TelemetryConfig(SERVER_URL, API_KEY, INSTANCE_ID)
    assert (SERVER_URL, API_KEY, INSTANCE_ID) == (
        config.server_url,
        config.api_key,
        config.instance_id,
    )
    assert [] == config.validate()


def test_dataclasses_replace_works() -> None:
    """``dataclasses.replace`` gives a changed copy and leaves the original alone."""
    original = good_config()
    changed = dataclasses.replace(original, batch_size=50, dry_run=True)
    assert (50, True, API_KEY) == (changed.batch_size, changed.dry_run, changed.api_key)
    assert (100, False) == (original.batch_size, original.dry_run)
    assert [] == changed.validate()


def test_configs_compare_by_value() -> None:
    """Two configs with the same values are equal (dataclass eq)."""
    assert good_config() == good_config()
    assert good_config() != good_config(batch_size=5)


# -- environment -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "YES", "Yes", "tRuE"])
@pytest.mark.parametrize("given", [True, False])
def test_enabled_env_truthy_values_turn_it_on(clean_env: pytest.MonkeyPatch, value: str, given: bool) -> None:
    """1/true/yes, any case, set enabled=True, whatever the constructor said."""
    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", value)
    assert TelemetryConfig(enabled=given).enabled is True


@pytest.mark.parametrize("value", ["0", "false", "no", "", "on", "y", "2", "enabled", "truthy"])
@pytest.mark.parametrize("given", [True, False])
def test_enabled_env_anything_else_turns_it_off(clean_env: pytest.MonkeyPatch, value: str, given: bool) -> None:
    """Any other value of MOSAIC_TELEMETRY_ENABLED (empty included) sets enabled=False, overriding the constructor."""
    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", value)
    assert TelemetryConfig(enabled=given).enabled is False


@pytest.mark.parametrize("given", [True, False])
def test_enabled_without_env_keeps_the_constructor_value(given: bool) -> None:
    """Without MOSAIC_TELEMETRY_ENABLED, enabled is what the constructor got."""
    assert given is TelemetryConfig(enabled=given).enabled


ENV_FIELDS = {
    "server_url": ("MOSAIC_TELEMETRY_SERVER_URL", SERVER_URL, "http://localhost:8000"),
    "api_key": ("MOSAIC_TELEMETRY_API_KEY", API_KEY, "b" * 64),
    "instance_id": (
        "MOSAIC_TELEMETRY_INSTANCE_ID",
        INSTANCE_ID,
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    ),
}


@pytest.mark.parametrize("field", ENV_FIELDS)
def test_env_fills_an_empty_field(clean_env: pytest.MonkeyPatch, field: str) -> None:
    """The server url, api key and instance id come from the environment when not given (or given empty)."""
    variable, from_env, _ = ENV_FIELDS[field]
    clean_env.setenv(variable, from_env)
    assert from_env == getattr(TelemetryConfig(), field)
    empty: dict[str, Any] = {field: ""}
    assert from_env == getattr(TelemetryConfig(**empty), field)


@pytest.mark.parametrize("field", ENV_FIELDS)
def test_constructor_value_wins_over_env(clean_env: pytest.MonkeyPatch, field: str) -> None:
    """A value given to the constructor is kept; the environment variable is ignored."""
    variable, from_env, given = ENV_FIELDS[field]
    clean_env.setenv(variable, from_env)
    values: dict[str, Any] = {field: given}
    assert given == getattr(TelemetryConfig(**values), field)


def test_config_from_env_alone_is_valid(clean_env: pytest.MonkeyPatch) -> None:
    """``TelemetryConfig()`` with all four variables set is a complete, valid config."""
    clean_env.setenv("MOSAIC_TELEMETRY_ENABLED", "true")
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", SERVER_URL + "/")
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", API_KEY)
    clean_env.setenv("MOSAIC_TELEMETRY_INSTANCE_ID", INSTANCE_ID)
    config = TelemetryConfig()
    assert (True, SERVER_URL, API_KEY, INSTANCE_ID) == (
        config.enabled,
        config.server_url,
        config.api_key,
        config.instance_id,
    )
    assert [] == config.validate()


def test_env_is_read_at_construction_time(clean_env: pytest.MonkeyPatch) -> None:
    """The environment is read when the config is made, not later."""
    config = TelemetryConfig()
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", SERVER_URL)
    assert "" == config.server_url
    assert SERVER_URL == TelemetryConfig().server_url


def test_env_var_names() -> None:
    """The module's constants name the documented variables."""
    assert (
        "MOSAIC_TELEMETRY_ENABLED",
        "MOSAIC_TELEMETRY_SERVER_URL",
        "MOSAIC_TELEMETRY_API_KEY",
        "MOSAIC_TELEMETRY_INSTANCE_ID",
    ) == (
        config_module.ENV_ENABLED,
        config_module.ENV_SERVER_URL,
        config_module.ENV_API_KEY,
        config_module.ENV_INSTANCE_ID,
    )


# -- normalisation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (SERVER_URL, SERVER_URL),
        (SERVER_URL + "/", SERVER_URL),
        (SERVER_URL + "///", SERVER_URL),
        ("http://localhost:8000/", "http://localhost:8000"),
        (SERVER_URL + "/api/", SERVER_URL + "/api"),
    ],
)
def test_trailing_slashes_are_stripped(given: str, expected: str) -> None:
    """Trailing slashes are stripped from server_url."""
    assert expected == TelemetryConfig(server_url=given).server_url


def test_env_server_url_trailing_slash_is_stripped(clean_env: pytest.MonkeyPatch) -> None:
    """A server url from the environment is stripped too."""
    clean_env.setenv("MOSAIC_TELEMETRY_SERVER_URL", SERVER_URL + "//")
    assert SERVER_URL == TelemetryConfig().server_url


def test_uuid_instance_id_becomes_its_string() -> None:
    """An instance_id given as a UUID object is kept as its canonical string (the documented type is str)."""
    config = good_config(instance_id=UUID(INSTANCE_ID))
    assert INSTANCE_ID == config.instance_id
    assert [] == config.validate()


# -- validate() ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"server_url": "http://localhost:8000", "api_key": "ABCDEF0123" * 6 + "abcd"},
        {"batch_size": 1, "max_queue_size": 1, "max_retries": 0},
        {"submit_interval_seconds": 0.001, "request_timeout_seconds": 1, "dry_run": True},
        {"instance_id": INSTANCE_ID.upper(), "on_error": print},
        {"spool_path": "/var/lib/spool", "spool_max_bytes": 1},
        {"spool_path": pathlib.Path("spool")},
    ],
    ids=["defaults", "http-and-uppercase-hex", "smallest", "fractions", "uppercase-uuid", "spool", "spool-pathlike"],
)
def test_validate_accepts_a_good_config(overrides: dict[str, Any]) -> None:
    """validate() returns [] for a good configuration."""
    config = good_config(**overrides)
    assert [] == config.validate()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("server_url", "", "server_url is required"),
        (
            "server_url",
            "tel-api.mosaicstack.dev",
            "server_url='tel-api.mosaicstack.dev' must start with http:// or https://",
        ),
        ("server_url", "ftp://host", "server_url='ftp://host' must start with http:// or https://"),
        ("instance_id", "not-a-uuid", "instance_id='not-a-uuid' is not a valid UUID"),
        ("instance_id", 42, "instance_id=42 is not a valid UUID"),
        ("submit_interval_seconds", 0, "submit_interval_seconds=0 must be a positive number"),
        ("submit_interval_seconds", -1.0, "submit_interval_seconds=-1.0 must be a positive number"),
        ("submit_interval_seconds", "5", "submit_interval_seconds='5' must be a positive number"),
        (
            "submit_interval_seconds",
            math.nan,
            "submit_interval_seconds=nan must be a positive number",
        ),
        ("submit_interval_seconds", True, "submit_interval_seconds=True must be a positive number"),
        ("max_queue_size", 0, "max_queue_size=0 must be a positive integer"),
        ("max_queue_size", -5, "max_queue_size=-5 must be a positive integer"),
        ("max_queue_size", 10.0, "max_queue_size=10.0 must be a positive integer"),
        ("max_queue_size", "10", "max_queue_size='10' must be a positive integer"),
        ("batch_size", 0, "batch_size=0 must be between 1 and 100"),
        ("batch_size", 101, "batch_size=101 must be between 1 and 100"),
        ("batch_size", 50.0, "batch_size=50.0 must be between 1 and 100"),
        ("batch_size", None, "batch_size=None must be between 1 and 100"),
        ("request_timeout_seconds", 0, "request_timeout_seconds=0 must be a positive number"),
        ("request_timeout_seconds", -0.5, "request_timeout_seconds=-0.5 must be a positive number"),
        (
            "prediction_cache_ttl_seconds",
            -1,
            "prediction_cache_ttl_seconds=-1 must be a positive number",
        ),
        ("shutdown_timeout_seconds", 0, "shutdown_timeout_seconds=0 must be a positive number"),
        ("max_retries", -1, "max_retries=-1 must be a non-negative integer"),
        ("max_retries", 1.5, "max_retries=1.5 must be a non-negative integer"),
        ("on_error", "log", "on_error='log' must be callable or None"),
        ("spool_path", "", "spool_path='' must be a directory path or None"),
        ("spool_path", 42, "spool_path=42 must be a directory path or None"),
        ("spool_max_bytes", 0, "spool_max_bytes=0 must be a positive integer"),
        ("spool_max_bytes", 1.5e6, "spool_max_bytes=1500000.0 must be a positive integer"),
    ],
)
def test_validate_reports_each_problem_naming_field_and_value(field: str, value: Any, expected: str) -> None:
    """Each documented check yields exactly one message naming the field and the offending value."""
    assert [expected] == good_config(**{field: value}).validate()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", "api_key is required"),
        (None, "api_key is required"),
        (12345, "api_key is required"),
        (SECRET_KEY[:-1], "api_key must be a 64-character hex string (it has 63 characters)"),
        (SECRET_KEY + "0", "api_key must be a 64-character hex string (it has 65 characters)"),
        (
            "g" + SECRET_KEY[1:],
            "api_key must be a 64-character hex string (it has non-hex characters)",
        ),
        (
            " " + SECRET_KEY[1:],
            "api_key must be a 64-character hex string (it has non-hex characters)",
        ),
        (
            "your-64-char-hex-api-key-here...",
            "api_key must be a 64-character hex string (it has 32 characters)",
        ),
    ],
)
def test_validate_reports_a_bad_api_key_without_echoing_it(key: Any, expected: str) -> None:
    """A bad api key gets one message that says what is wrong without repeating the key."""
    config = good_config(api_key=key)
    assert [expected] == config.validate()
    if isinstance(key, str) and key:
        assert key not in expected
        for text in (repr(config), str(config)):
            assert key not in text


def test_validate_lists_every_problem() -> None:
    """A config wrong in every way gets one message per problem, each naming its field."""
    config = TelemetryConfig(
        server_url="nope",
        api_key="short",
        instance_id="nope",
        submit_interval_seconds=0,
        max_queue_size=0,
        batch_size=0,
        request_timeout_seconds=0,
        prediction_cache_ttl_seconds=0,
        max_retries=-1,
        shutdown_timeout_seconds=0,
        on_error=5,  # type: ignore[arg-type]
    )
    problems = config.validate()
    assert [
        "server_url",
        "api_key",
        "instance_id",
        "submit_interval_seconds",
        "request_timeout_seconds",
        "prediction_cache_ttl_seconds",
        "shutdown_timeout_seconds",
        "max_queue_size",
        "batch_size",
        "max_retries",
        "on_error",
    ] == [problem.split("=")[0].split(" ")[0] for problem in problems]


def test_an_empty_config_reports_the_three_required_fields() -> None:
    """``TelemetryConfig()`` without environment lacks exactly the url, the key and the instance id."""
    assert [
        "server_url is required",
        "api_key is required",
        "instance_id='' is not a valid UUID",
    ] == TelemetryConfig().validate()


def test_validate_does_not_change_the_config() -> None:
    """validate() only reads: the config is equal before and after, and a second call says the same."""
    config = good_config(batch_size=0)
    before = dataclasses.replace(config)
    assert config.validate() == config.validate()
    assert before == config


# -- the api key stays secret ----------------------------------------------------------------------------------------


def test_api_key_never_appears_in_repr_or_str() -> None:
    """repr() and str() show the other fields but never the api key (field has repr=False)."""
    config = good_config(api_key=SECRET_KEY)
    for text in (repr(config), str(config)):
        assert SECRET_KEY not in text
        assert "api_key" not in text
        assert SERVER_URL in text
        assert INSTANCE_ID in text
    assert dataclasses.fields(TelemetryConfig)[1].repr is False


def test_api_key_from_env_never_appears_in_repr_or_messages(clean_env: pytest.MonkeyPatch) -> None:
    """A key read from the environment is as secret as a given one, in repr and in every validate() message."""
    clean_env.setenv("MOSAIC_TELEMETRY_API_KEY", SECRET_KEY)
    config = TelemetryConfig(server_url="bad", instance_id="bad", batch_size=0)
    assert SECRET_KEY == config.api_key
    assert SECRET_KEY not in repr(config)
    assert all(SECRET_KEY not in message for message in config.validate())


def test_almost_valid_api_key_is_not_echoed() -> None:
    """A key of the right length with one bad character is not echoed, not even in part."""
    almost = SECRET_KEY[:-1] + "x"
    problems = good_config(api_key=almost).validate()
    assert 1 == len(problems)
    assert almost not in problems[0]
    assert SECRET_KEY[:-1] not in problems[0]


# -- construction never raises ---------------------------------------------------------------------------------------


ABSURD: dict[str, Any] = {
    "server_url": None,
    "api_key": None,
    "instance_id": None,
    "enabled": None,
    "submit_interval_seconds": "fast",
    "max_queue_size": "big",
    "batch_size": None,
    "request_timeout_seconds": [],
    "prediction_cache_ttl_seconds": {},
    "dry_run": "no",
    "max_retries": object(),
    "user_agent": None,
    "shutdown_timeout_seconds": -math.inf,
    "on_error": 5,
}


def test_construction_never_raises_even_with_absurd_values() -> None:
    """None, strings for numbers, containers, objects: construction and validate() never raise."""
    config = TelemetryConfig(**ABSURD)
    problems = config.validate()
    assert all(isinstance(problem, str) for problem in problems)
    assert 11 == len(problems)
    assert isinstance(repr(config), str)


@pytest.mark.parametrize("field", list(ABSURD))
def test_each_absurd_value_alone_never_raises(field: str) -> None:
    """Each absurd value on its own is accepted by the constructor and reported (or ignored) by validate()."""
    config = good_config(**{field: ABSURD[field]})
    assert isinstance(config.validate(), list)
    repr(config)


@pytest.mark.parametrize("value", [b"https://x", 123, ["https://x"]], ids=["bytes", "int", "list"])
def test_non_string_server_url_is_reported(value: Any) -> None:
    """A server url that is not a string at all is reported (and construction does not fail stripping it)."""
    problems = good_config(server_url=value).validate()
    assert 1 == len(problems)
    assert problems[0].startswith("server_url")


def test_on_error_is_a_telemetry_error_callback() -> None:
    """on_error accepts a callable taking a TelemetryError."""
    seen: list[TelemetryError] = []
    config = good_config(on_error=seen.append)
    assert config.on_error is not None
    config.on_error(TelemetryError("HTTP 500"))
    assert ["HTTP 500"] == [str(error) for error in seen]
    assert [] == config.validate()
