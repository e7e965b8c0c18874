"""Models and wire format against the pydantic design they replace (issue: foundation).

Run: ``nox -s bench`` or ``python benchmarks/bench_models.py``. Prints medians and ratios measured in the same run
(the machine is shared and noisy: only the ratios mean much). Targets: build ≤ 1.0× pydantic ``model_validate``;
batch serialization ≤ 1.0× ``model_dump(mode="json")`` + ``json.dumps`` with the stdlib, ≤ 1.0× ``model_dump_json``
with orjson (the ``fast`` extra); memory per queued event ≤ 0.2× pydantic's.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

from _pydantic_baseline import PydanticEvent
from _timing import interleaved_medians, print_table

from mosaicstack_telemetry import (
    Complexity,
    EventBuilder,
    Harness,
    Outcome,
    Provider,
    QualityGate,
    TaskCompletionEvent,
    TaskType,
    _wire,
)

INSTANCE_ID = "12345678-1234-1234-1234-123456789abc"
FIELDS: dict[str, Any] = {
    "instance_id": INSTANCE_ID,
    "task_duration_ms": 45_000,
    "task_type": TaskType.IMPLEMENTATION,
    "complexity": Complexity.MEDIUM,
    "harness": Harness.AIDER,
    "model": "claude-sonnet-4-20250514",
    "provider": Provider.ANTHROPIC,
    "estimated_input_tokens": 5_000,
    "estimated_output_tokens": 2_000,
    "actual_input_tokens": 5_200,
    "actual_output_tokens": 1_800,
    "estimated_cost_usd_micros": 50_000,
    "actual_cost_usd_micros": 48_000,
    "quality_gate_passed": True,
    "quality_gates_run": [QualityGate.LINT, QualityGate.TEST],
    "quality_gates_failed": [],
    "context_compactions": 0,
    "context_rotations": 0,
    "context_utilization_final": 0.4,
    "outcome": Outcome.SUCCESS,
    "retry_count": 0,
    "language": "python",
}


def build_with_builder() -> TaskCompletionEvent:
    return chain().build()


def chain() -> EventBuilder:
    """The setter chain alone: what the caller's code costs before ``build()``."""
    return (
        EventBuilder(instance_id=INSTANCE_ID)
        .task_type(TaskType.IMPLEMENTATION)
        .model("claude-sonnet-4-20250514")
        .provider(Provider.ANTHROPIC)
        .harness_type(Harness.AIDER)
        .complexity_level(Complexity.MEDIUM)
        .outcome_value(Outcome.SUCCESS)
        .duration_ms(45_000)
        .tokens(estimated_in=5_000, estimated_out=2_000, actual_in=5_200, actual_out=1_800)
        .cost(estimated=50_000, actual=48_000)
        .quality(passed=True, gates_run=[QualityGate.LINT, QualityGate.TEST])
        .context(compactions=0, rotations=0, utilization=0.4)
        .language("python")
    )


def bytes_per_object(make: Callable[[], object], count: int = 10_000) -> float:
    """Memory held per object, measured with tracemalloc while ``count`` of them are alive."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [make() for _ in range(count)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del kept
    return size / count


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} µs"


def ratio(ours: float, baseline: float, target: float) -> str:
    verdict = "meets" if ours / baseline <= target else "MISSES"
    return f"{ours / baseline:.2f}× (target ≤ {target}×: {verdict})"


def main() -> None:
    ready = chain()
    build = interleaved_medians(
        {
            "pydantic": lambda: PydanticEvent.model_validate(FIELDS),
            "ctor": lambda: TaskCompletionEvent(**FIELDS),
            "builder": build_with_builder,
            "chain": chain,
            "build": ready.build,
        },
        number=5_000,
    )
    pydantic_build, ctor_build, builder_build = build["pydantic"], build["ctor"], build["builder"]
    print_table(
        "Build + validate one event",
        [
            ("pydantic model_validate (baseline)", us(pydantic_build), "1.00×"),
            (
                "ours: TaskCompletionEvent(**fields)",
                us(ctor_build),
                ratio(ctor_build, pydantic_build, 1.0),
            ),
            (
                "ours: EventBuilder chain + build()",
                us(builder_build),
                ratio(builder_build, pydantic_build, 1.0),
            ),
            ("  of which the setter chain", us(build["chain"]), f"{build['chain'] / pydantic_build:.2f}×"),
            ("  of which build()", us(build["build"]), f"{build['build'] / pydantic_build:.2f}×"),
        ],
    )

    ours = [TaskCompletionEvent(**FIELDS) for _ in range(100)]
    theirs = [PydanticEvent.model_validate(FIELDS) for _ in range(100)]
    assert json.loads(_wire.dumps(ours))[0].keys() == json.loads(theirs[0].model_dump_json()).keys()

    def pydantic_stdlib() -> bytes:
        return json.dumps([e.model_dump(mode="json") for e in theirs]).encode()

    def pydantic_rust() -> bytes:
        return b"[" + b",".join(e.model_dump_json().encode() for e in theirs) + b"]"

    fast = _wire.orjson

    def ours_stdlib() -> bytes:
        _wire.orjson = None
        try:
            return _wire.dumps(ours)
        finally:
            _wire.orjson = fast

    figures = interleaved_medians(
        {"stdlib_baseline": pydantic_stdlib, "rust_baseline": pydantic_rust, "ours_stdlib": ours_stdlib}
        | ({"ours_fast": lambda: _wire.dumps(ours)} if fast is not None else {}),
        number=100,
    )
    stdlib_baseline, rust_baseline, ours_stdlib_time = (
        figures["stdlib_baseline"],
        figures["rust_baseline"],
        figures["ours_stdlib"],
    )
    rows = [
        ("pydantic model_dump(json) + json.dumps (baseline)", us(stdlib_baseline), "1.00×"),
        ("ours, stdlib json", us(ours_stdlib_time), ratio(ours_stdlib_time, stdlib_baseline, 1.0)),
        ("pydantic model_dump_json (baseline)", us(rust_baseline), "1.00×"),
    ]
    if fast is not None:
        ours_fast = figures["ours_fast"]
        rows.append(("ours, orjson (fast extra)", us(ours_fast), ratio(ours_fast, rust_baseline, 1.0)))
    else:
        rows.append(("ours, orjson (fast extra)", "not installed", "-"))
    print_table("Serialize a 100-event batch to JSON bytes", rows)

    pydantic_bytes = bytes_per_object(lambda: PydanticEvent.model_validate(FIELDS))
    ours_bytes = bytes_per_object(lambda: TaskCompletionEvent(**FIELDS))
    print_table(
        "Memory per queued event (tracemalloc, 10,000 alive)",
        [
            ("pydantic event (baseline)", f"{pydantic_bytes:,.0f} B", "1.00×"),
            ("ours", f"{ours_bytes:,.0f} B", ratio(ours_bytes, pydantic_bytes, 0.2)),
        ],
    )


if __name__ == "__main__":
    main()
