// Small DOM helpers. Text from the server is only ever set as text (never parsed as HTML), so a
// camera name or a reason cannot inject markup.

/**
 * Make an element: `h("a", {href: "#/x", class: "btn"}, "text", child)`. Attributes whose value
 * is false/null/undefined are left out; `on*` functions become event listeners.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A `<time>` with the local rendering and the exact instant in its `datetime`. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString());
}

/** A number rounded to two significant digits, in words for millions ("5.2 million"). */
function roughly(n) {
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(2)).toLocaleString()} million`;
  return Number(n.toPrecision(2)).toLocaleString();
}

/**
 * A probability such as a false-alert rate: a percentage (or 1.9e-7 when tiny) and "about 1 in
 * N", with N rounded, because a calibrated rate is an estimate, not an exact count.
 */
export function rate(p) {
  if (p === null || p === undefined) return "not calibrated";
  if (p <= 0) return "0 (below what calibration can measure)";
  const shown = p >= 1e-4 ? `${Number((p * 100).toPrecision(2))}%` : p.toExponential(1);
  return `${shown} (about 1 in ${roughly(1 / p)})`;
}

export function score(x) {
  return x === null || x === undefined ? "—" : Number(x).toFixed(3);
}

/** Human words for a machine value: `one_confirmed` → `one confirmed`. */
export function words(value) {
  return String(value ?? "").replaceAll("_", " ");
}

/** A status badge that does not rely on colour alone (it has a symbol and words). */
export function badge(value) {
  const symbols = {
    online: "●",
    degraded: "▲",
    offline: "✕",
    unknown: "?",
    pending: "○",
    one_confirmed: "◐",
    actionable: "●",
    rejected: "✕",
    expired: "–",
    approved: "✓",
    requested: "○",
    urgent_pending: "!",
    refused: "✕",
    revoked: "✕",
    confirm: "✓",
    reject: "✕",
  };
  const sym = symbols[value] ?? "•";
  return h(
    "span",
    { class: `badge badge-${String(value).replace(/[^a-z_]/g, "")}` },
    h("span", { "aria-hidden": "true" }, `${sym} `),
    words(value),
  );
}

/** A message box: `kind` is "error" (role=alert), "ok" or "info" (role=status). */
export function message(kind, text) {
  const role = kind === "error" ? "alert" : "status";
  return h("div", { class: `msg msg-${kind}`, role }, text);
}

/** The API's error envelope, shown as it came (status, code and message). */
export function apiError(error, prefix = "") {
  const status = error.status ? `${error.status} ` : "";
  const code = error.code ? `(${error.code}) ` : "";
  const text = error.fullMessage ?? error.message ?? String(error);
  return h(
    "div",
    { class: "msg msg-error", role: "alert", dataset: { status: error.status ?? "" } },
    prefix ? h("strong", {}, `${prefix}: `) : null,
    h("span", { class: "err-code" }, `${status}${code}`),
    h("span", { class: "err-message" }, text),
  );
}

/** A person or record id, shortened for reading (the whole id is its title); `me`: show "you". */
export function shortId(id, me = null) {
  if (!id) return "—";
  if (me && id === me.id) return h("span", {}, `you (${me.username})`);
  const text = id.length > 12 ? `${id.slice(0, 8)}…` : id;
  return h("span", { class: "id", title: id }, text);
}

/** A table with a caption, header cells and rows of cells. */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows),
  );
}

/**
 * A table shown `size` rows at a time, with "Previous page" / "Next page" buttons (native
 * buttons: Tab and Enter or Space work; the page number is announced politely). The rows are
 * built once and kept, so a live update of a row on another page is not lost. Client-side,
 * for lists the API answers whole (cameras, deployments: tens to hundreds). `page`: the page to
 * show first; `onPage(k)` is told of every change (to keep the page over a reload).
 */
export function pagedTable(caption, headers, rows, attrs = {}, { size = 20, label = "Pages", page = 0, onPage = null } = {}) {
  const body = h("tbody", {});
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const status = h("span", { class: "pager-status", "aria-live": "polite" });
  const prev = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  let current = 0;
  function show(k, moved = null) {
    current = Math.min(Math.max(0, k), pages - 1);
    body.replaceChildren(...rows.slice(current * size, current * size + size));
    prev.disabled = current === 0;
    next.disabled = current >= pages - 1;
    const first = current * size + 1;
    status.textContent = ` Page ${current + 1} of ${pages} (rows ${first}–${Math.min(rows.length, first + size - 1)} of ${rows.length}) `;
    if (moved?.disabled) (moved === prev ? next : prev).focus(); // a disabled button loses focus
    if (onPage) onPage(current);
  }
  prev.addEventListener("click", () => show(current - 1, prev));
  next.addEventListener("click", () => show(current + 1, next));
  show(page);
  return h(
    "div",
    { class: "paged" },
    h("table", attrs, h("caption", {}, caption), h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), body),
    pages > 1 ? h("nav", { class: "pager", "aria-label": label }, prev, status, next) : null,
  );
}
