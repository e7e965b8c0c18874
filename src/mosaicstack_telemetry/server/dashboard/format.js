// Number, money, duration and time formatting for the dashboard (fixed en-US: the same text on every machine).

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 12345 → "12,345". */
export function count(value) {
  return integer.format(value);
}

/** Micro-dollars → "$1,234.57". */
export function usd(micros) {
  return dollars.format(micros / 1e6);
}

/** part / whole of two counts → "61.3%": tenths of a percent, exactly rounded half up; "–" when whole is 0. */
export function percent(part, whole) {
  if (!whole) return "–";
  const tenths = Math.floor((2000 * part + whole) / (2 * whole));
  return `${Math.floor(tenths / 10)}.${tenths % 10}%`;
}

/** A rate in [0, 1] → "61.5%". */
export function rate(value) {
  return `${(100 * value).toFixed(1)}%`;
}

/** Milliseconds → "850 ms", "12.3 s", "4.5 min", "1.2 h". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** An RFC 3339 time → "2026-11-20 13:05:09" (UTC). */
export function utc(text) {
  return new Date(text).toISOString().slice(0, 19).replace("T", " ");
}

/** Seconds → "42 s ago", "3 min ago". */
export function age(seconds) {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}
