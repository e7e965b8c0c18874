// Small SVG charts drawn from the read API's JSON: no library, no inline style (the page's CSP allows none).

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

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
 * range.end; empty buckets are simply absent. bucketMs is the bucket's width.
 */
export function timeBars(container, buckets, range, bucketMs, format) {
  const width = Math.max(container.clientWidth, 240), height = 220, pad = { top: 12, right: 12, bottom: 28, left: 40 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "svg-chart" });
  container.replaceChildren(chart);
  if (!buckets.length || !range.start) {
    container.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: "No events." }));
    return;
  }
  const floor = (time) => Math.floor(time / bucketMs) * bucketMs;
  const first = floor(Date.parse(range.start));
  const last = Math.max(floor(Date.parse(range.end ?? range.start)), ...buckets.map((b) => Date.parse(b.start))) + bucketMs;
  const span = Math.max(last - first, bucketMs);
  const top = axis(chart, width, height, pad, Math.max(...buckets.map((b) => b.events)), format);
  const plotWidth = width - pad.left - pad.right, plotHeight = height - pad.top - pad.bottom;
  const barWidth = Math.max(1, (plotWidth * bucketMs) / span - 1);
  for (const bucket of buckets) {
    const x = pad.left + (plotWidth * (Date.parse(bucket.start) - first)) / span;
    const h = (plotHeight * bucket.events) / top;
    const bar = svg("rect", { x, y: pad.top + plotHeight - h, width: barWidth, height: h, class: "bar" });
    bar.append(svg("title", {}, `${bucket.start.slice(0, bucketMs < 86_400_000 ? 13 : 10).replace("T", " ")}: ${format(bucket.events)} events`));
    chart.append(bar);
  }
  for (const fraction of width < 500 ? [0, 1] : [0, 0.5, 1]) {
    const time = new Date(first + span * fraction);
    const label = time.toISOString().slice(0, bucketMs < 86_400_000 ? 16 : 10).replace("T", " ");
    const anchor = fraction === 0 ? "start" : fraction === 1 ? "end" : "middle";
    chart.append(svg("text", { x: pad.left + plotWidth * fraction, y: height - 8, class: `tick ${anchor}` }, label));
  }
}

/** Labelled vertical bars (a histogram): labels[i] under values[i]. */
export function bars(container, labels, values, format) {
  const width = Math.max(container.clientWidth, 240), height = 220, pad = { top: 12, right: 8, bottom: 40, left: 40 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "svg-chart" });
  container.replaceChildren(chart);
  const top = axis(chart, width, height, pad, Math.max(0, ...values), format);
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
