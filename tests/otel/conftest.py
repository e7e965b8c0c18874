"""tests/otel: the bridge's own tests run everywhere (JSON needs nothing extra); the modules that need
opentelemetry-proto or the OpenTelemetry SDK skip themselves (``pytest.importorskip``) where those are not installed
(``nox -s otel`` installs them)."""
