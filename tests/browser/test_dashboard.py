"""The dashboard in Chromium: the key prompt, figures equal to the dataset's, a filter, paging, both layouts.

Every expected figure is computed here from the dataset's events (``tests/server/_stats_support.py``), never by
asking the server or running its SQL.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from mosaicstack_telemetry.server.runner import ServerThread
from tests.server import _stats_support as data

from .conftest import API_KEY, EVENTS, NARROW, OTHER_EVENTS, WIDE, Page

SELECTED_MODEL = "gpt-5"


def _usd(micros: int) -> str:
    return f"${micros / 1e6:,.2f}"


def _percent(part: int, whole: int) -> str:
    """Tenths of a percent, rounded half up from the exact fraction."""
    return _tenths(Fraction(100 * part, whole))


def _tenths(value: Fraction) -> str:
    tenths = int(value * 10 + Fraction(1, 2))  # floor(x + 1/2): half up, for x >= 0
    return f"{tenths // 10}.{tenths % 10}%"


def _check_totals(page: Page, events: list[Any]) -> None:
    expected = data.totals(events)
    assert (f"{expected['events']:,}", str(expected["events"])) == page.stat("events")
    assert (f"{expected['input_tokens']:,}", str(expected["input_tokens"])) == page.stat("input_tokens")
    assert (f"{expected['output_tokens']:,}", str(expected["output_tokens"])) == page.stat("output_tokens")
    assert (_usd(expected["cost_usd_micros"]), str(expected["cost_usd_micros"])) == page.stat("cost")
    assert _percent(expected["succeeded"], expected["events"]) == page.stat("success_rate")[0]
    assert _percent(expected["gate_passed"], expected["events"]) == page.stat("gate_pass_rate")[0]
    assert str(data.nearest_rank_duration(events, 50)) == page.stat("p50")[1]
    assert str(data.nearest_rank_duration(events, 90)) == page.stat("p90")[1]


def _check_groups(page: Page, events: list[Any]) -> None:
    for table_id, field in (("by-model", "model"), ("by-task-type", "task_type")):
        shown = page.table(table_id)
        expected = data.by(events, field)
        assert set(expected) == set(shown)
        for key, sums in expected.items():
            row = shown[key]
            assert (str(sums["events"]), str(sums["input_tokens"]), str(sums["output_tokens"])) == (
                row["events:value"],
                row["input_tokens:value"],
                row["output_tokens:value"],
            )
            assert (_usd(sums["cost_usd_micros"]), f"{sums['events']:,}") == (row["cost"], row["events"])
            if field == "task_type":
                assert _percent(sums["succeeded"], sums["events"]) == row["success_rate"]
                assert _percent(sums["gate_passed"], sums["events"]) == row["gate_pass_rate"]
    by_task = page.table("gates")  # task types down, gates across
    expected_gates = data.gate_rates(events)
    assert {task for task, _ in expected_gates} == set(by_task)
    for (task, gate), (runs, failures) in expected_gates.items():
        cells = by_task[task]
        assert (str(runs), str(failures)) == (cells[f"{gate}:runs"], cells[f"{gate}:value"])
        assert (_percent(failures, runs) if runs else "–") == cells[gate]


def _check_latest(page: Page, events: list[Any], offset: int = 0) -> None:
    expected = data.latest(events)[offset : offset + 20]
    rows = page.table("events")
    assert [str(event.event_id) for event in expected] == list(rows)
    first = expected[0]
    assert (str(first.actual_cost_usd_micros), first.model) == (rows[str(first.event_id)]["cost:value"], first.model)
    label = page.page.locator("#page-label").inner_text()
    assert f"{offset + 1}–{offset + len(expected)} of {len(events)}" == label


def test_the_key_prompt_keeps_the_key_in_the_tab_and_out_of_urls(dashboard: Page, browser: Any) -> None:
    page = dashboard.page
    assert page.locator("#key-prompt").is_visible()
    assert not page.locator("#board").is_visible()
    dashboard.sign_in("not-a-key")
    assert "64 hexadecimal characters" in page.locator("#key-error").inner_text()
    dashboard.sign_in("ab" * 32)  # well formed, unknown to the server
    page.wait_for_selector("#key-error:has-text('unknown api key')")
    assert page.evaluate("sessionStorage.length") == 0
    assert not page.locator("#board").is_visible()
    dashboard.sign_in(API_KEY)
    dashboard.wait_ready()
    assert str(data.INSTANCE) == page.locator("#instance-id").inner_text()
    assert API_KEY == page.evaluate("sessionStorage.getItem('mosaic-telemetry.api-key')")
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    page.reload()  # the same tab: still signed in
    dashboard.wait_ready()
    assert not page.locator("#key-prompt").is_visible()
    api = [request for request in dashboard.requests if "/v1/stats/" in request.url]
    assert api
    assert all(request.headers.get("authorization") == f"Bearer {API_KEY}" for request in api[-4:])
    assert all(API_KEY not in request.url and "ab" * 32 not in request.url for request in dashboard.requests)
    assert API_KEY not in page.content()
    with browser.new_context(viewport=WIDE) as other_tab:  # another session: asked again
        fresh = other_tab.new_page()
        fresh.goto(page.url)
        fresh.wait_for_selector("#key-prompt:not([hidden])")
    page.click("#forget")
    assert page.locator("#key-prompt").is_visible()
    assert page.evaluate("sessionStorage.length") == 0
    refused = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert [refused] == dashboard.errors  # the unknown key's answer, and nothing else


def test_every_figure_equals_the_instances_events(dashboard: Page, server: ServerThread) -> None:
    dashboard.sign_in()
    dashboard.wait_ready()
    events = data.select(EVENTS)
    _check_totals(dashboard, events)
    _check_groups(dashboard, events)
    _check_latest(dashboard, events)
    page = dashboard.page
    hours = data.series(events, "hour")
    assert "per hour (UTC)" == page.locator("#bucket-label").inner_text()
    titles = page.locator("#series-chart rect.bar title").all_text_contents()
    assert sorted(f"{moment:%Y-%m-%d %H}: {count:,} events" for moment, count in hours.items()) == sorted(titles)
    bins = data.duration_bins(events, (0, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000))
    shown_bins = page.locator("#duration-chart text.value").all_text_contents()
    assert [f"{count:,}" for count in bins] == shown_bins
    other = {str(event.event_id) for event in OTHER_EVENTS}
    assert not other & set(dashboard.table("events"))
    # nothing but this server: the page works offline
    assert all(request.url.startswith(server.url + "/") for request in dashboard.requests)
    assert [] == dashboard.errors


def test_a_filter_and_paging_narrow_every_figure(dashboard: Page) -> None:
    dashboard.sign_in()
    dashboard.wait_ready()
    page = dashboard.page
    dashboard.change(lambda: page.select_option("#f-model", SELECTED_MODEL))
    events = data.select(EVENTS, model=SELECTED_MODEL)
    assert 0 < len(events) < len(EVENTS)
    _check_totals(dashboard, events)
    _check_groups(dashboard, events)
    _check_latest(dashboard, events)
    dashboard.change(lambda: page.click("#next"))
    _check_latest(dashboard, events, offset=20)
    start, end = datetime(2026, 11, 21, 6, tzinfo=timezone.utc), datetime(2026, 11, 22, 6, 30, tzinfo=timezone.utc)
    dashboard.change(lambda: page.fill("#f-from", "2026-11-21T06:00:00"))
    dashboard.change(lambda: page.fill("#f-to", "2026-11-22T06:30:00"))
    events = data.select(EVENTS, model=SELECTED_MODEL, start=start, end=end)
    _check_totals(dashboard, events)
    _check_groups(dashboard, events)
    _check_latest(dashboard, events)  # back on the first page after a filter change
    dashboard.change(lambda: page.click("#f-reset"))
    _check_totals(dashboard, data.select(EVENTS))
    assert [] == dashboard.errors


def test_a_range_longer_than_72_hours_is_drawn_by_day(dashboard: Page) -> None:
    dashboard.sign_in()
    dashboard.wait_ready()
    page = dashboard.page
    dashboard.change(lambda: page.fill("#f-from", "2026-11-15T00:00:00"))
    assert "per day (UTC)" == page.locator("#bucket-label").inner_text()
    days = data.series(data.select(EVENTS), "day")
    titles = page.locator("#series-chart rect.bar title").all_text_contents()
    assert sorted(f"{moment:%Y-%m-%d}: {count:,} events" for moment, count in days.items()) == sorted(titles)
    assert [] == dashboard.errors


def test_predictions_are_shown_as_crowd_sourced(dashboard: Page) -> None:
    dashboard.sign_in()
    dashboard.wait_ready()
    page = dashboard.page
    assert "every instance" in page.locator("#predictions-note").inner_text()
    assert "up to 30 s old" in page.locator("#predictions-note").inner_text()

    def combination(event: Any) -> str:
        return f"{event.task_type.value}|{event.model}|{event.provider.value}|{event.complexity.value}"

    mine = Counter(combination(event) for event in EVENTS)
    everyone = Counter(combination(event) for event in EVENTS + OTHER_EVENTS)
    rows = dashboard.table("predictions")
    expected = sorted(mine.items(), key=lambda item: (-item[1], item[0]))[:6]
    assert [key for key, _ in expected] == list(rows)
    for key, count in expected:
        row = rows[key]
        assert str(count) == row["events:value"]
        assert row["confidence"] in {"high", "medium", "low"}
        assert row["age"].endswith("ago")
        task_type, model, provider, complexity = key.split("|")
        assert f"{task_type} · {model} ({provider}) · {complexity}" == row["combination"]
        if row["fallback:value"] == "0":  # an exact match: every instance's events of the combination
            assert f"{everyone[key]:,} events, exact match" == row["fallback"]
    assert any(everyone[key] > mine[key] for key, _ in expected)  # the dataset does share combinations
    assert any(row["fallback:value"] == "0" for row in rows.values())  # and has exact matches


def test_an_instance_without_events_sees_an_empty_board(dashboard: Page, server: ServerThread) -> None:
    dashboard.sign_in(server.create_key().key)
    dashboard.wait_ready()
    page = dashboard.page
    assert ("0", "0") == dashboard.stat("events")
    assert ("$0.00", "–") == (dashboard.stat("cost")[0], dashboard.stat("success_rate")[0])
    for table_id in ("by-model", "by-task-type", "gates", "predictions", "events"):
        assert "Nothing for this filter." == page.locator(f"#{table_id} td.empty").inner_text()
    assert "No events." == page.locator("#series-chart .empty").inner_text()
    assert "no events" == page.locator("#page-label").inner_text()
    assert [] == dashboard.errors


def _layout(page: Any) -> dict[str, Any]:
    layout: dict[str, Any] = page.evaluate(
        """() => ({
            overflow: document.documentElement.scrollWidth - window.innerWidth,
            kpis: [...document.querySelectorAll('.kpi')].map(e => Math.round(e.getBoundingClientRect().top)),
            panels: [...document.querySelectorAll('.columns > .panel')].map(e => {
                const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.width)]; }),
        })"""
    )
    return layout


def test_usable_at_1280_by_800(dashboard: Page) -> None:
    dashboard.sign_in()
    dashboard.wait_ready()
    layout = _layout(dashboard.page)
    assert layout["overflow"] <= 0
    assert 1 == len(set(layout["kpis"]))  # the eight totals on one row
    assert 2 == len({left for left, _ in layout["panels"]})  # the breakdowns two by two
    screenshot = dashboard.page.screenshot(full_page=False)
    assert screenshot.startswith(b"\x89PNG")
    target = os.environ.get("MOSAIC_DASHBOARD_SCREENSHOT")  # docs/dashboard.png comes from here
    if target:
        Path(target).write_bytes(screenshot)


def test_usable_in_a_narrow_window(dashboard: Page) -> None:
    page = dashboard.page
    page.set_viewport_size(NARROW)
    assert page.locator("#key-input").bounding_box()["width"] <= NARROW["width"]
    dashboard.sign_in()
    dashboard.wait_ready()
    layout = _layout(page)
    assert layout["overflow"] <= 0  # wide tables scroll inside their panel, not the page
    assert 1 == len({left for left, _ in layout["panels"]})  # one column
    assert all(width >= NARROW["width"] - 40 for _, width in layout["panels"])
    assert 4 == len(set(layout["kpis"]))  # the totals two by two
    _check_totals(dashboard, data.select(EVENTS))
    assert [] == dashboard.errors


def _failure_shown(page: Any) -> str:
    """Wait for the failure message and return it (it must be visible, whatever else shows)."""
    page.wait_for_selector("#failure:not([hidden])")
    assert page.locator("#error").is_visible()
    assert page.locator("#retry").is_visible()
    return page.locator("#error").inner_text()  # type: ignore[no-any-return]


def test_a_failed_load_is_shown_and_retry_recovers(dashboard: Page, server: ServerThread) -> None:
    page = dashboard.page
    server.faults.fail_next(1, 503)  # signing in: /v1/stats/filters fails
    dashboard.sign_in()
    assert "injected fault: HTTP 503" in _failure_shown(page)
    assert (True, False) == (page.locator("#key-prompt").is_visible(), page.locator("#board").is_visible())
    page.click("#retry")
    dashboard.wait_ready()
    assert not page.locator("#failure").is_visible()
    _check_totals(dashboard, data.select(EVENTS))

    server.faults.fail_next(1, 503)  # reloading with the key stored: neither the prompt nor the board shows yet
    page.reload()
    assert "injected fault: HTTP 503" in _failure_shown(page)
    assert (False, False) == (page.locator("#key-prompt").is_visible(), page.locator("#board").is_visible())
    assert page.locator("#forget").is_visible()
    page.click("#retry")
    dashboard.wait_ready()
    assert not page.locator("#failure").is_visible()

    server.faults.fail_next(1, 503)  # a filter change: one of the board's three requests fails
    dashboard.change(lambda: page.select_option("#f-model", SELECTED_MODEL))
    assert "injected fault: HTTP 503" in _failure_shown(page)
    assert page.locator("#board").is_visible()
    dashboard.change(lambda: page.click("#retry"))
    assert not page.locator("#failure").is_visible()
    _check_totals(dashboard, data.select(EVENTS, model=SELECTED_MODEL))
    unavailable = "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
    assert [unavailable] * 3 == dashboard.errors


_DRAW = """async ([buckets, range, bucket]) => {
    const { timeBars } = await import("/dashboard/assets/charts.js");
    const box = document.createElement("div");
    document.body.append(box);
    const many = typeof buckets === "number";  // that many hourly buckets from 1990 on
    if (many) buckets = Array.from({ length: buckets }, (_, i) => ({
        start: new Date(Date.UTC(1990, 0, 1) + i * 3600000).toISOString(), events: (i % 7) + 1 }));
    if (many) range = { start: buckets[0].start, end: buckets.at(-1).start };
    try {
        timeBars(box, buckets, range, bucket, String);
        const bars = [...box.querySelectorAll("rect.bar")].slice(0, 5);
        return {
            count: box.querySelectorAll("rect.bar").length,
            titles: bars.map((bar) => bar.textContent),
            left: bars.map((bar) => Number(bar.getAttribute("x"))),
            width: bars.map((bar) => Number(bar.getAttribute("width"))),
            ticks: [...box.querySelectorAll("text.tick")].map((tick) => tick.textContent),
        };
    } finally { box.remove(); }
}"""


def test_the_series_chart_draws_many_buckets(dashboard: Page) -> None:
    drawn = dashboard.page.evaluate(_DRAW, [300_000, None, "hour"])  # Math.max(...300k values) overflows the stack
    assert 300_000 == drawn["count"]
    assert ["1990-01-01 00: 1 events", "1990-01-01 01: 2 events"] == drawn["titles"][:2]
    assert "10" == drawn["ticks"][2]  # the axis' top: the largest count (7), rounded up
    assert [] == dashboard.errors


def _buckets(*starts: str) -> list[dict[str, Any]]:
    return [{"start": f"{start}T00:00:00+00:00", "events": index + 1} for index, start in enumerate(starts)]


def test_the_series_chart_draws_weeks_months_and_years(dashboard: Page) -> None:
    page = dashboard.page
    months = page.evaluate(
        _DRAW,
        [_buckets("2024-01-01", "2024-02-01", "2024-04-01"), {"start": "2024-01-20", "end": "2024-04-02"}, "month"],
    )
    assert ["2024-01: 1 events", "2024-02: 2 events", "2024-04: 3 events"] == months["titles"]
    left, width = months["left"], months["width"]
    assert (width[0] + 1) / (width[1] + 1) == pytest.approx(31 / 29)  # January, and February of a leap year
    assert (left[1] - left[0]) / (left[2] - left[1]) == pytest.approx(31 / (29 + 31))  # March is empty
    assert ["2024-01", "2024-05"] == [months["ticks"][3], months["ticks"][5]]  # the axis: whole months
    weeks = page.evaluate(
        _DRAW, [_buckets("2026-11-16", "2026-11-23"), {"start": "2026-11-22T23:00:00Z", "end": "2026-11-23"}, "week"]
    )
    assert ["week of 2026-11-16: 1 events", "week of 2026-11-23: 2 events"] == weeks["titles"]
    assert weeks["width"][0] == pytest.approx(weeks["width"][1])
    years = page.evaluate(
        _DRAW, [_buckets("0001-01-01", "0099-01-01"), {"start": "0001-06-01", "end": "0099-06-01"}, "year"]
    )
    assert ["0001: 1 events", "0099: 2 events"] == years["titles"]  # not 1901, 1999: Date.UTC's two-digit years
    assert ["0001", "0100"] == [years["ticks"][3], years["ticks"][5]]
    assert [] == dashboard.errors
