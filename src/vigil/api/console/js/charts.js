// Charts in plain SVG, built with DOM calls (no library, no inline style: the console's CSP
// allows neither). Each chart is a <figure> whose SVG has role="img" and a text label, and is
// followed by the same numbers as a table, so a screen reader and a printout get them too.

import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

/** An SVG element with attributes (all set as attributes, never as style). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * Horizontal bars: `items` = [{label, value}]. Values are drawn to scale and written at the bar
 * end, so the chart reads without colour.
 */
export function barChart(title, items, { id } = {}) {
  const W = 640;
  const row = 28;
  const left = 210;
  const H = Math.max(row, items.length * row) + 10;
  const max = niceMax(Math.max(0, ...items.map((i) => i.value ?? 0)));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}: ${items.map((i) => `${i.label} ${i.value ?? "none"}`).join(", ")}` });
  items.forEach((item, k) => {
    const y = 5 + k * row;
    const w = ((item.value ?? 0) / max) * (W - left - 70);
    svg.append(
      s("text", { x: left - 8, y: y + 18, "text-anchor": "end", class: "chart-label" }, item.label),
      s("rect", { x: left, y: y + 4, width: Math.max(w, 1), height: row - 10, class: `bar ${item.kind ?? ""}` }),
      s("text", { x: left + w + 6, y: y + 18, class: "chart-value" }, item.value ?? "—"),
    );
  });
  return h(
    "figure",
    { class: "chart-figure", id },
    h("figcaption", {}, title),
    svg,
    h(
      "table",
      { class: "data compact" },
      h("caption", { class: "visually-hidden" }, `${title} (numbers)`),
      h("tbody", {}, items.map((i) => h("tr", {}, h("th", { scope: "row" }, i.label), h("td", { class: "num" }, i.value ?? "—")))),
    ),
  );
}

function clock(d, spanS) {
  return spanS > 86400
    ? d.toLocaleDateString(undefined, { weekday: "short", day: "numeric" })
    : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * People over time: `points` = [{at, mean, max}] between `since` and `until` (ISO strings);
 * `threshold`: a horizontal dashed line with its label; `marks` = [{at, label}]: vertical
 * markers (crowd alerts).
 */
export function timeChart(title, { points, since, until, threshold, marks = [] }) {
  const W = 760;
  const H = 300;
  const L = 48;
  const R = 16;
  const T = 16;
  const B = 34;
  const t0 = Date.parse(since);
  const t1 = Date.parse(until);
  const span = Math.max(1, (t1 - t0) / 1000);
  const top = niceMax(Math.max(1, ...points.map((p) => p.max), threshold && threshold < 4 * Math.max(1, ...points.map((p) => p.max)) ? threshold : 0));
  const x = (iso) => L + ((Date.parse(iso) - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}: ${points.length} points${marks.length ? `, ${marks.length} crowd alerts marked` : ""}` });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(
      s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-label" }, Number(v.toPrecision(3))),
    );
  }
  for (let k = 0; k <= 4; k++) {
    const at = new Date(t0 + ((t1 - t0) * k) / 4);
    svg.append(s("text", { x: L + ((W - L - R) * k) / 4, y: H - 10, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle", class: "chart-label" }, clock(at, span)));
  }
  if (threshold && threshold <= top) {
    svg.append(
      s("line", { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold), class: "threshold" }),
      s("text", { x: W - R - 4, y: y(threshold) - 5, "text-anchor": "end", class: "chart-label threshold-label" }, `overcrowding ${threshold}`),
    );
  }
  for (const m of marks) {
    const mx = x(m.at);
    svg.append(s("line", { x1: mx, x2: mx, y1: T, y2: H - B, class: "mark" }, s("title", {}, m.label)), s("text", { x: mx > W - R - 60 ? mx - 3 : mx + 3, y: T + 10, "text-anchor": mx > W - R - 60 ? "end" : "start", class: "chart-label mark-label" }, "▲ alert"));
  }
  if (points.length) {
    const band = points.map((p) => `${x(p.at).toFixed(1)},${y(p.max).toFixed(1)}`).join(" ");
    const mean = points.map((p) => `${x(p.at).toFixed(1)},${y(p.mean).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points: band, class: "series-max" }), s("polyline", { points: mean, class: "series" }));
    for (const p of points) svg.append(s("circle", { cx: x(p.at), cy: y(p.mean), r: 2.5, class: "series-dot" }));
  }
  return h("figure", { class: "chart-figure" }, h("figcaption", {}, title), svg);
}

/**
 * Counts over time, one line per series: `series` = [{label, kind, points: [{at, count}]}]
 * between `since` and `until`; `kind` ("in" or "out") picks the stroke, and "out" is dashed so
 * the chart reads without colour. Buckets with no count are drawn as zero (the API leaves them
 * out); the numbers follow in a table.
 */
export function countChart(title, { series, since, until, bucketS }) {
  const W = 760;
  const H = 260;
  const L = 48;
  const R = 16;
  const T = 16;
  const B = 34;
  const t0 = Date.parse(since);
  const t1 = Date.parse(until);
  const span = Math.max(1, (t1 - t0) / 1000);
  const n = Math.max(1, Math.ceil(span / bucketS));
  const top = niceMax(Math.max(1, ...series.flatMap((sr) => sr.points.map((p) => p.count))));
  const x = (ms) => L + ((ms - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}: ${series.map((sr) => `${sr.label} ${sr.points.reduce((a, p) => a + p.count, 0)}`).join(", ")}` });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg.append(
      s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-label" }, Number(v.toPrecision(3))),
    );
  }
  for (let k = 0; k <= 4; k++) {
    const at = new Date(t0 + ((t1 - t0) * k) / 4);
    svg.append(s("text", { x: L + ((W - L - R) * k) / 4, y: H - 10, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle", class: "chart-label" }, clock(at, span)));
  }
  series.forEach((sr, k) => {
    const byBucket = new Map(sr.points.map((p) => [Math.floor((Date.parse(p.at) - t0) / 1000 / bucketS), p.count]));
    const pts = [];
    for (let b = 0; b < n; b++) pts.push(`${x(t0 + b * bucketS * 1000).toFixed(1)},${y(byBucket.get(b) ?? 0).toFixed(1)}`);
    svg.append(s("polyline", { points: pts.join(" "), class: `series-${sr.kind}` }, s("title", {}, sr.label)));
    for (const [b, c] of byBucket) svg.append(s("circle", { cx: x(t0 + b * bucketS * 1000), cy: y(c), r: 2.5, class: `dot-${sr.kind}` }));
    const lx = L + 8 + k * 170;
    svg.append(
      s("line", { x1: lx, x2: lx + 24, y1: T + 6, y2: T + 6, class: `series-${sr.kind}` }),
      s("text", { x: lx + 30, y: T + 10, class: "chart-label" }, sr.label),
    );
  });
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", {}, title),
    svg,
    h(
      "table",
      { class: "data compact" },
      h("caption", { class: "visually-hidden" }, `${title} (numbers)`),
      h("tbody", {}, series.map((sr) => h("tr", {}, h("th", { scope: "row" }, sr.label), h("td", { class: "num" }, sr.points.reduce((a, p) => a + p.count, 0))))),
    ),
  );
}

/** A rate per search in one notation everywhere on a page: "4.2e-3" (two digits). */
export function sci(p) {
  if (p === null || p === undefined) return "—";
  return p === 0 ? "0" : p.toExponential(1);
}

/**
 * Observed rates with their interval beside a promised bound, on a log scale (rates per search
 * span decades): `items` = [{label, point, lo, hi, bound}]. Each row draws the interval as a
 * line with a dot at the point and the bound as a dashed tick; the numbers follow in a table, so
 * the chart reads without colour. Rows with no interval draw nothing but their label.
 */
export function intervalChart(title, items, { id } = {}) {
  const W = 640;
  const row = 30;
  const left = 210;
  const right = 20;
  const H = Math.max(row, items.length * row) + 34;
  const vals = items.flatMap((i) => [i.lo, i.hi, i.bound, i.point]).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(1e-6, ...vals)));
  const hi = Math.min(0, Math.ceil(Math.log10(Math.max(1e-3, ...vals))));
  const x = (v) => left + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(1, hi - lo)) * (W - left - right);
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": `${title}: ${items.map((i) => `${i.label} observed ${sci(i.point)} (95% interval ${sci(i.lo)} to ${sci(i.hi)}), bound ${sci(i.bound)}`).join("; ")}`,
  });
  for (let e = lo; e <= hi; e += 1) {
    svg.append(
      s("line", { x1: x(10 ** e), x2: x(10 ** e), y1: 4, y2: H - 24, class: "grid" }),
      s("text", { x: x(10 ** e), y: H - 8, "text-anchor": "middle", class: "chart-value" }, `1e${e}`),
    );
  }
  items.forEach((item, k) => {
    const y = 8 + k * row + row / 2;
    svg.append(s("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "chart-label" }, item.label));
    if (item.lo !== null && item.lo !== undefined) {
      svg.append(
        s("line", { x1: x(item.lo), x2: x(item.hi), y1: y, y2: y, class: "interval" }),
        s("circle", { cx: x(item.point), cy: y, r: 4, class: "series-dot" }),
      );
    }
    if (item.bound) svg.append(s("line", { x1: x(item.bound), x2: x(item.bound), y1: y - 10, y2: y + 10, class: "threshold" }));
  });
  return h(
    "figure",
    { class: "chart-figure", id },
    h("figcaption", {}, title),
    svg,
    h("p", { class: "hint" }, "Line: the exact 95% interval of rejected alerts per face scanned, dot at the observed rate; dashed tick: the calibrated bound the alerts displayed. Log scale."),
  );
}
