// Small SVG charts drawn from the read API's JSON: no library, no inline style (the page's CSP allows none).

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

const HOUR = 3_600_000, DAY = 86_400_000;

/** The largest of values (0 for none): a loop, since spreading thousands of values into Math.max overflows the stack. */
export function largest(values) {
  let top = 0;
  for (const value of values) if (value > top) top = value;
  return top;
}

function utcDay(year, month, day) {  // Date.UTC maps years 0-99 to 1900-1999: set the year apart
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date.getTime();
}

/** The start of the UTC bucket (hour, day, week from Monday, month or year) holding time (ms since the epoch). */
export function bucketStart(bucket, time) {
  const date = new Date(time), day = Math.floor(time / DAY) * DAY;
  switch (bucket) {
    case "hour": return Math.floor(time / HOUR) * HOUR;
    case "week": return day - ((date.getUTCDay() + 6) % 7) * DAY;
    case "month": return utcDay(date.getUTCFullYear(), date.getUTCMonth(), 1);
    case "year": return utcDay(date.getUTCFullYear(), 0, 1);
    default: return day;
  }
}

/** The start of the bucket after the one starting at start. */
export function bucketEnd(bucket, start) {
  const date = new Date(start);
  switch (bucket) {
    case "hour": return start + HOUR;
    case "week": return start + 7 * DAY;
    case "month": return utcDay(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    case "year": return utcDay(date.getUTCFullYear() + 1, 0, 1);
    default: return start + DAY;
  }
}

// How much of an ISO 8601 time names a bucket of each size, and what an axis label shows.
const NAME_LENGTH = { hour: 13, day: 10, week: 10, month: 7, year: 4 };

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * step >= value) return factor * step;
  return 10 * step;
}

function axis(chart, width, height, pad, maxValue, format) {
  const top = niceMax(maxValue);
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + (height - pad.top - pad.bottom) * (1 - fraction);
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    chart.append(svg("text", { x: pad.left - 6, y: y + 4, class: "tick end" }, format(top * fraction)));
  }
  return top;
}

/**
 * Bars on a time axis: one per non-empty bucket ({start, events, ...}), placed by time between range.start and
 * range.end; empty buckets are simply absent. bucket is the buckets' size: hour, day, week, month or year (UTC).
 * Any number of buckets: nothing here spreads them into a call's arguments.
 */
export function timeBars(container, buckets, range, bucket, format) {
  const width = Math.max(container.clientWidth, 240), height = 220, pad = { top: 12, right: 12, bottom: 28, left: 40 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "svg-chart" });
  container.replaceChildren(chart);
  if (!buckets.length || !range.start) {
    container.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: "No events." }));
    return;
  }
  const first = bucketStart(bucket, Date.parse(range.start));
  let last = bucketEnd(bucket, bucketStart(bucket, Date.parse(range.end ?? range.start)));
  for (const b of buckets) last = Math.max(last, bucketEnd(bucket, Date.parse(b.start)));
  const span = last - first;
  const top = axis(chart, width, height, pad, largest(buckets.map((b) => b.events)), format);
  const plotWidth = width - pad.left - pad.right, plotHeight = height - pad.top - pad.bottom;
  const name = (text) => `${bucket === "week" ? "week of " : ""}${text.slice(0, NAME_LENGTH[bucket] ?? 10).replace("T", " ")}`;
  for (const b of buckets) {
    const start = Date.parse(b.start);
    const x = pad.left + (plotWidth * (start - first)) / span;
    const barWidth = Math.max(1, (plotWidth * (bucketEnd(bucket, start) - start)) / span - 1);
    const h = (plotHeight * b.events) / top;
    const bar = svg("rect", { x, y: pad.top + plotHeight - h, width: barWidth, height: h, class: "bar" });
    bar.append(svg("title", {}, `${name(b.start)}: ${format(b.events)} events`));
    chart.append(bar);
  }
  for (const fraction of width < 500 ? [0, 1] : [0, 0.5, 1]) {
    const time = new Date(first + span * fraction).toISOString();
    const label = bucket === "hour" ? time.slice(0, 16).replace("T", " ") : time.slice(0, NAME_LENGTH[bucket] ?? 10);
    const anchor = fraction === 0 ? "start" : fraction === 1 ? "end" : "middle";
    chart.append(svg("text", { x: pad.left + plotWidth * fraction, y: height - 8, class: `tick ${anchor}` }, label));
  }
}

/** Labelled vertical bars (a histogram): labels[i] under values[i]. */
export function bars(container, labels, values, format) {
  const width = Math.max(container.clientWidth, 240), height = 220, pad = { top: 12, right: 8, bottom: 40, left: 40 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "svg-chart" });
  container.replaceChildren(chart);
  const top = axis(chart, width, height, pad, largest(values), format);
  const slot = (width - pad.left - pad.right) / values.length, plotHeight = height - pad.top - pad.bottom;
  values.forEach((value, index) => {
    const h = (plotHeight * value) / top, x = pad.left + slot * index;
    const bar = svg("rect", { x: x + 3, y: pad.top + plotHeight - h, width: slot - 6, height: h, class: "bar" });
    bar.append(svg("title", {}, `${labels[index]}: ${format(value)} events`));
    chart.append(bar);
    if (slot >= 44 || index % 2 === 0) chart.append(svg("text", { x: x + slot / 2, y: height - 22, class: "tick middle" }, labels[index]));
    chart.append(svg("text", { x: x + slot / 2, y: height - 8, class: "tick middle value" }, format(value)));
  });
}

/** A thin horizontal bar showing share in [0, 1], for a table cell. */
export function share(fraction) {
  const chart = svg("svg", { viewBox: "0 0 100 8", class: "share", preserveAspectRatio: "none", "aria-hidden": "true" });
  chart.append(svg("rect", { x: 0, y: 0, width: 100, height: 8, class: "track" }));
  chart.append(svg("rect", { x: 0, y: 0, width: Math.max(0, Math.min(1, fraction)) * 100, height: 8, class: "fill" }));
  return chart;
}
