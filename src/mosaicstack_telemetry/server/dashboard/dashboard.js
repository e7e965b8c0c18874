// The dashboard: asks for the api key once per tab, then reads /v1/stats/... with it and draws what it gets.
//
// The key lives in sessionStorage only (this tab, until it closes) and travels only in the Authorization header:
// never in a URL, never in the page's markup. A 401 or 403 forgets it and asks again.

import { bars, share, timeBars } from "./charts.js";
import * as fmt from "./format.js";

const KEY_STORAGE = "mosaic-telemetry.api-key";
const KEY_PATTERN = /^[0-9a-fA-F]{64}$/;
const PAGE = 20;
const DURATION_LABELS = ["<10s", "10–30s", "30s–1m", "1–2m", "2–5m", "5–10m", "10–30m", "30m–1h", "≥1h"];
const FALLBACKS = ["exact match", "any complexity", "any model", "task type only"];

const $ = (id) => document.getElementById(id);
const state = { offset: 0, generation: 0 };

class AuthError extends Error {}

function cell(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  if (text instanceof Node) element.append(text);
  else element.textContent = text;
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function table(id, headers, rows) {
  const head = cell("tr", "");
  head.replaceChildren(...headers.map((header) => cell("th", header, { scope: "col" })));
  const body = document.createElement("tbody");
  for (const { key, cells } of rows) {
    const row = cell("tr", "", { "data-key": key });
    row.replaceChildren(...cells.map(([column, content, raw, extra = {}]) => cell("td", content, {
      "data-col": column, ...(raw === undefined ? {} : { "data-value": raw }), ...extra,
    })));
    body.append(row);
  }
  if (!rows.length) {
    const row = cell("tr", "");
    row.append(cell("td", "Nothing for this filter.", { colspan: headers.length, class: "empty" }));
    body.append(row);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  $(id).replaceChildren(thead, body);
}

// -- the key ----------------------------------------------------------------------------------------------------------

function askForKey(message = "") {
  $("board").hidden = true;
  $("forget").hidden = true;
  $("instance").hidden = true;
  $("key-prompt").hidden = false;
  $("key-error").hidden = !message;
  $("key-error").textContent = message;
  $("key-input").value = "";
  $("key-input").focus();
}

function forgetKey(message = "") {
  sessionStorage.removeItem(KEY_STORAGE);
  askForKey(message);
}

async function api(path, params = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) throw new AuthError("");
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== "" && value !== null)).toString();
  const response = await fetch(query ? `${path}?${query}` : path, {
    headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  const body = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  if (response.status === 401 || response.status === 403) throw new AuthError(`The server refused this key: ${body.detail}.`);
  if (!response.ok) throw new Error([body.detail, ...(body.errors ?? [])].join(" — "));
  return body;
}

// -- filters ----------------------------------------------------------------------------------------------------------

function utcInput(text) {
  return text ? `${text.length === 16 ? `${text}:00` : text}Z` : "";
}

function filters() {
  return {
    from: utcInput($("f-from").value),
    to: utcInput($("f-to").value),
    model: $("f-model").value,
    task_type: $("f-task_type").value,
    harness: $("f-harness").value,
  };
}

function fillSelect(id, values) {
  const select = $(id);
  const chosen = select.value;
  select.replaceChildren(select.options[0], ...values.map((value) => cell("option", value, { value })));
  select.value = values.includes(chosen) ? chosen : "";
}

// -- rendering --------------------------------------------------------------------------------------------------------

function stat(name, text, raw) {
  const element = document.querySelector(`[data-stat="${name}"]`);
  element.textContent = text;
  element.dataset.value = raw ?? "";
}

function drawCharts(data) {
  timeBars($("series-chart"), data.series, data.range, data.bucket, fmt.count);
  bars($("duration-chart"), DURATION_LABELS, data.durations.counts, fmt.count);
}

function renderOverview(data) {
  state.overview = data;
  const t = data.totals;
  stat("events", fmt.count(t.events), t.events);
  stat("success_rate", fmt.percent(t.succeeded, t.events), t.succeeded);
  stat("gate_pass_rate", fmt.percent(t.gate_passed, t.events), t.gate_passed);
  stat("input_tokens", fmt.count(t.input_tokens), t.input_tokens);
  stat("output_tokens", fmt.count(t.output_tokens), t.output_tokens);
  stat("cost", fmt.usd(t.cost_usd_micros), t.cost_usd_micros);
  stat("p50", fmt.duration(data.durations.p50_ms), data.durations.p50_ms);
  stat("p90", fmt.duration(data.durations.p90_ms), data.durations.p90_ms);
  $("bucket-label").textContent = `per ${data.bucket} (UTC)`;
  drawCharts(data);
  const totalCost = t.cost_usd_micros;
  table("by-model", ["Model", "Events", "Input", "Output", "Cost", "Share of cost"], data.by_model.map((row) => ({
    key: row.key,
    cells: [
      ["key", row.key], ["events", fmt.count(row.events), row.events],
      ["input_tokens", fmt.count(row.input_tokens), row.input_tokens],
      ["output_tokens", fmt.count(row.output_tokens), row.output_tokens],
      ["cost", fmt.usd(row.cost_usd_micros), row.cost_usd_micros],
      ["share", share(totalCost ? row.cost_usd_micros / totalCost : 0)],
    ],
  })));
  table("by-task-type", ["Task type", "Events", "Success", "Gates passed", "Input", "Output", "Cost"], data.by_task_type.map((row) => ({
    key: row.key,
    cells: [
      ["key", row.key], ["events", fmt.count(row.events), row.events],
      ["success_rate", fmt.percent(row.succeeded, row.events), row.succeeded],
      ["gate_pass_rate", fmt.percent(row.gate_passed, row.events), row.gate_passed],
      ["input_tokens", fmt.count(row.input_tokens), row.input_tokens],
      ["output_tokens", fmt.count(row.output_tokens), row.output_tokens],
      ["cost", fmt.usd(row.cost_usd_micros), row.cost_usd_micros],
    ],
  })));
  const gates = [...new Set(data.gates.map((row) => row.gate))].sort();
  const taskTypes = [...new Set(data.gates.map((row) => row.task_type))].sort();
  const gateCell = (taskType, gate) => {
    const row = data.gates.find((r) => r.task_type === taskType && r.gate === gate) ?? { runs: 0, failures: 0 };
    const title = `${fmt.count(row.failures)} of ${fmt.count(row.runs)} ${taskType} events that ran ${gate} failed it`;
    const level = !row.runs ? "none" : row.failures / row.runs >= 0.5 ? "high" : row.failures / row.runs >= 0.2 ? "medium" : "low";
    return [gate, fmt.percent(row.failures, row.runs), row.failures, { "data-runs": row.runs, title, class: `rate ${level}` }];
  };
  table("gates", ["Task type", ...gates], taskTypes.map((taskType) => ({
    key: taskType,
    cells: [["task_type", taskType], ...gates.map((gate) => gateCell(taskType, gate))],
  })));
  const range = data.range.start ? `${fmt.utc(data.range.start)} – ${fmt.utc(data.range.end)} UTC` : "no events";
  $("status").textContent = `${fmt.count(t.events)} events · ${range}`;
}

function renderPredictions(data) {
  $("predictions-note").textContent = "Crowd-sourced: computed from every instance's events on this server, not only "
    + `yours, and up to ${fmt.count(data.max_age_seconds)} s old (the server's freshness bound).`;
  const now = Date.parse(data.generated_at);
  table("predictions", ["Task type · model (provider) · complexity", "Your events", "Input", "Output", "Cost", "Duration", "Success", "Confidence", "Based on", "Computed"],
    data.results.map(({ query, events, response }) => {
      const p = response.prediction, m = response.metadata;
      const fallback = m.fallback_level < 0 ? "no data" : FALLBACKS[m.fallback_level] ?? `level ${m.fallback_level}`;
      const computed = m.last_updated ? fmt.age((now - Date.parse(m.last_updated)) / 1000) : "–";
      return {
        key: [query.task_type, query.model, query.provider, query.complexity].join("|"),
        cells: [
          ["combination", `${query.task_type} · ${query.model} (${query.provider}) · ${query.complexity}`],
          ["events", fmt.count(events), events],
          ["input", p ? fmt.count(p.input_tokens.median) : "–"], ["output", p ? fmt.count(p.output_tokens.median) : "–"],
          ["cost", p ? fmt.usd(p.cost_usd_micros.median) : "–"], ["duration", p ? fmt.duration(p.duration_ms.median) : "–"],
          ["success", p ? fmt.rate(p.quality.success_rate) : "–"],
          ["confidence", cell("span", m.confidence, { class: `badge ${m.confidence}` })],
          ["fallback", `${fmt.count(m.sample_size)} events, ${fallback}`, m.fallback_level, m.fallback_note ? { title: m.fallback_note } : {}],
          ["age", computed, m.last_updated ?? ""],
        ],
      };
    }));
}

function renderEvents(data) {
  table("events", ["Time (UTC)", "Task type", "Model", "Harness", "Outcome", "Duration", "Input", "Output", "Cost", "Gates failed"], data.events.map((row) => ({
    key: row.event_id,
    cells: [
      ["timestamp", fmt.utc(row.timestamp), row.timestamp], ["task_type", row.task_type], ["model", row.model],
      ["harness", row.harness], ["outcome", cell("span", row.outcome, { class: `outcome ${row.outcome}` })],
      ["duration", fmt.duration(row.task_duration_ms), row.task_duration_ms],
      ["input_tokens", fmt.count(row.input_tokens), row.input_tokens],
      ["output_tokens", fmt.count(row.output_tokens), row.output_tokens],
      ["cost", fmt.usd(row.cost_usd_micros), row.cost_usd_micros],
      ["gates_failed", row.quality_gates_failed.join(", ") || "–"],
    ],
  })));
  const last = Math.min(data.offset + data.events.length, data.total);
  $("page-label").textContent = data.total ? `${fmt.count(data.offset + 1)}–${fmt.count(last)} of ${fmt.count(data.total)}` : "no events";
  $("prev").disabled = data.offset === 0;
  $("next").disabled = last >= data.total;
}

// -- loading ----------------------------------------------------------------------------------------------------------

function showFailure(message, retry) {
  state.retry = retry;
  $("error").textContent = message;
  $("failure").hidden = !message;
}

// Runs work(current) as the page's latest load: a newer load makes current() false, and only the latest one's
// outcome shows. A non-auth failure shows #failure (outside the prompt and the board, so visible whichever shows)
// with a Retry button that runs the same work again.
async function guarded(work) {
  const generation = ++state.generation;
  const current = () => generation === state.generation;
  document.body.classList.add("loading");
  try {
    await work(current);
    if (current()) showFailure("");
  } catch (error) {
    if (!current()) return;
    if (error instanceof AuthError) {
      showFailure("");
      forgetKey(error.message);
    } else showFailure(`Could not load the dashboard: ${error.message}`, () => guarded(work));
  } finally {
    if (current()) document.body.classList.remove("loading");
  }
}

async function load(current) {
  const chosen = filters();
  const [overview, events, predictions] = await Promise.all([
    api("/v1/stats/overview", chosen),
    api("/v1/stats/events", { ...chosen, limit: PAGE, offset: state.offset }),
    api("/v1/stats/predictions", chosen),
  ]);
  if (!current()) return;
  renderOverview(overview);
  renderEvents(events);
  renderPredictions(predictions);
  document.body.dataset.ready = "true";
}

function refresh() {
  return guarded(load);
}

function page(delta) {
  state.offset = Math.max(0, state.offset + delta);
  return guarded(async (current) => {
    const events = await api("/v1/stats/events", { ...filters(), limit: PAGE, offset: state.offset });
    if (current()) renderEvents(events);
  });
}

async function open(current) {
  $("forget").hidden = false;  // the key is stored: whatever happens next, it can be forgotten
  const facets = await api("/v1/stats/filters");
  if (!current()) return;
  $("instance-id").textContent = facets.instance_id;
  fillSelect("f-model", facets.models);
  fillSelect("f-task_type", facets.task_types);
  fillSelect("f-harness", facets.harnesses);
  $("key-prompt").hidden = true;
  $("board").hidden = false;
  $("instance").hidden = false;
  await load(current);
}

function start() {
  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!KEY_PATTERN.test(key)) {
      askForKey("An api key is 64 hexadecimal characters (mosaic-telemetry serve and demo print one).");
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key.toLowerCase());
    await guarded(open);
  });
  $("forget").addEventListener("click", () => { showFailure(""); forgetKey(); });
  $("retry").addEventListener("click", () => state.retry?.());
  $("filters").addEventListener("change", () => { state.offset = 0; refresh(); });
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("filters").addEventListener("reset", () => setTimeout(() => { state.offset = 0; refresh(); }));
  let resizing = null;
  window.addEventListener("resize", () => {  // charts are drawn at the size they are shown: redraw
    clearTimeout(resizing);
    resizing = setTimeout(() => state.overview && drawCharts(state.overview), 100);
  });
  $("prev").addEventListener("click", () => page(-PAGE));
  $("next").addEventListener("click", () => page(PAGE));
  if (sessionStorage.getItem(KEY_STORAGE)) guarded(open);
  else askForKey();
}

start();
