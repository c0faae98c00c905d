// Plates: licence-plate hotlists (supervisors and investigators) and the audited plate search
// (investigators). The API audits every change to a list and every search; this page asks for
// the reasons the API requires and shows its answers, refusals included, as they came.

import * as api from "../api.js";
import { apiError, fill, h, message, score, shortId, table, time } from "../dom.js";

const LIST_HEADERS = ["Name", "Priority", "Reason", "Expires", "Hits kept (days)", "Entries", ""];
const ENTRY_HEADERS = ["Plate or pattern", "Reason", "Expires", "Added", "Remove"];
const HIT_HEADERS = ["Plate", "Distance", "Camera", "Read at", "Confidence", "Hotlist", "Read id"];
const SEARCH_LIMIT = 100;
const DISTANCES = [
  ["0", "0 — exact (wildcards only)"],
  ["1", "1 — one character may differ"],
  ["2", "2 — two characters may differ"],
];

/** A `datetime-local` value (the browser's local time) as an ISO instant, or null if empty. */
function instant(input) {
  return input.value ? new Date(input.value).toISOString() : null;
}

/**
 * The API's refusal as it came; a 422 from request validation also lists which fields it
 * refused and why (its `detail` is a list of `{loc, msg}`).
 */
function refusal(err, prefix) {
  const box = apiError(err, prefix);
  if (Array.isArray(err.detail) && err.detail.length) {
    const items = err.detail.map((d) => {
      const field = (d.loc ?? []).filter((p) => p !== "body" && p !== "header").join(".");
      return h("li", {}, field ? `${field}: ${d.msg}` : d.msg);
    });
    box.append(h("ul", { class: "err-detail" }, items));
  }
  return box;
}

/**
 * A reason sent as the X-Vigil-Reason header (deletes carry no body). A header holds Latin-1
 * text only: anything else would fail in the browser before reaching the API, so say so here.
 */
function headerReasonProblem(text) {
  return /[^\x20-\x7e\xa0-\xff]/.test(text)
    ? "This reason travels in an HTTP header: use Latin letters, digits and punctuation only."
    : null;
}

function field(id, label, input, hint) {
  return h(
    "p",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("span", { id: `${id}-help`, class: "hint" }, hint) : null,
  );
}

function reasonInput(id, max = 2000) {
  return h("input", { id, name: "reason", required: true, minlength: 3, maxlength: max });
}

/** A form that posts, shows the API's refusal in its own alert region and calls `done`. */
function guarded(form, errors, button, prefix, act) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    button.disabled = true;
    try {
      await act();
    } catch (err) {
      fill(errors, refusal(err, prefix));
    } finally {
      button.disabled = false;
    }
  });
}

function createForm(onCreated) {
  const errors = h("div", { id: "hotlist-form-errors" });
  const name = h("input", { id: "hl-name", name: "name", required: true, maxlength: 200 });
  const priority = h("input", {
    id: "hl-priority",
    name: "priority",
    type: "number",
    required: true,
    min: 0,
    max: 100,
    step: 1,
    "aria-describedby": "hl-priority-help",
  });
  const reason = reasonInput("hl-reason");
  const retention = h("input", {
    id: "hl-retention",
    name: "retention_days",
    type: "number",
    required: true,
    min: 0.01,
    max: 3650,
    step: "any",
    "aria-describedby": "hl-retention-help",
  });
  const expires = h("input", { id: "hl-expires", name: "expires_at", type: "datetime-local" });
  const submit = h("button", { type: "submit" }, "Create hotlist");
  const form = h(
    "form",
    { id: "hotlist-form", class: "plates-form" },
    field("hl-name", "Name", name),
    field("hl-priority", "Priority (0-100)", priority, "When a plate is on several lists, the most urgent list raises the alert."),
    field("hl-reason", "Reason for the list (recorded)", reason),
    field("hl-retention", "Keep hits for (days)", retention, "Reads that hit this list are kept this long; others go after the plain plate-read retention."),
    field("hl-expires", "Expires (optional)", expires),
    errors,
    submit,
  );
  guarded(form, errors, submit, "The hotlist was refused", async () => {
    const created = await api.post("/hotlists", {
      name: name.value.trim(),
      priority: Number(priority.value),
      reason: reason.value.trim(),
      retention_days: Number(retention.value),
      expires_at: instant(expires),
    });
    form.reset();
    await onCreated(created);
  });
  return form;
}

function entryRow(list, entry, done) {
  const errors = h("div", { class: "entry-errors" });
  const id = `remove-reason-${entry.id}`;
  const reason = reasonInput(id, 500);
  const submit = h(
    "button",
    { type: "submit", class: "danger" },
    "Remove",
    h("span", { class: "visually-hidden" }, ` ${entry.pattern}`),
  );
  const form = h(
    "form",
    { class: "row-form" },
    h("label", { for: id }, "Reason (recorded)"),
    reason,
    submit,
    errors,
  );
  guarded(form, errors, submit, "The removal was refused", async () => {
    const why = reason.value.trim();
    const problem = headerReasonProblem(why);
    if (problem) {
      fill(errors, message("error", problem));
      return;
    }
    await api.call(
      "DELETE",
      `/hotlists/${encodeURIComponent(list.id)}/entries/${encodeURIComponent(entry.id)}`,
      { headers: { "X-Vigil-Reason": why } },
    );
    await done(`Entry ${entry.pattern} removed from ${list.name}.`);
  });
  return h(
    "tr",
    { dataset: { entryId: entry.id } },
    h("th", { scope: "row", class: "plate" }, entry.pattern),
    h("td", {}, entry.reason),
    h("td", {}, entry.expires_at ? time(entry.expires_at) : "never"),
    h("td", {}, time(entry.added_at)),
    h("td", {}, form),
  );
}

function addEntryForm(list, done) {
  const errors = h("div", { id: "entry-errors" });
  const pattern = h("input", {
    id: "entry-pattern",
    name: "pattern",
    required: true,
    maxlength: 24,
    autocomplete: "off",
    "aria-describedby": "entry-pattern-help",
  });
  const reason = reasonInput("entry-reason");
  const expires = h("input", { id: "entry-expires", name: "expires_at", type: "datetime-local" });
  const submit = h("button", { type: "submit" }, "Add entry");
  const form = h(
    "form",
    { id: "entry-form", class: "plates-form" },
    field("entry-pattern", "Plate or pattern", pattern, "An exact plate, or ? for one character and * for any run; spaces and dashes are ignored."),
    field("entry-reason", "Reason for the entry (recorded)", reason),
    field("entry-expires", "Expires (optional)", expires),
    errors,
    submit,
  );
  guarded(form, errors, submit, "The entry was refused", async () => {
    const added = await api.post(`/hotlists/${encodeURIComponent(list.id)}/entries`, {
      pattern: pattern.value.trim(),
      reason: reason.value.trim(),
      expires_at: instant(expires),
    });
    await done(`Entry ${added.pattern} added to ${list.name}.`);
  });
  return form;
}

function deleteForm(list, done) {
  const errors = h("div", { id: "delete-errors" });
  const reason = reasonInput("delete-reason", 500);
  reason.setAttribute("aria-describedby", "delete-reason-help");
  const submit = h("button", { type: "submit", class: "danger" }, "Delete list");
  const form = h(
    "form",
    { id: "delete-hotlist-form", class: "plates-form" },
    field("delete-reason", "Reason for deleting this list (recorded)", reason, "Its entries go with it; its hits become ordinary reads under the plain retention."),
    errors,
    submit,
  );
  guarded(form, errors, submit, "The deletion was refused", async () => {
    const why = reason.value.trim();
    const problem = headerReasonProblem(why);
    if (problem) {
      fill(errors, message("error", problem));
      return;
    }
    await api.call("DELETE", `/hotlists/${encodeURIComponent(list.id)}`, {
      headers: { "X-Vigil-Reason": why },
    });
    await done(`Hotlist ${list.name} deleted.`, null);
  });
  return form;
}

/** One list's entries with the forms that change them. */
function detail(list, done) {
  const entries = list.entries ?? [];
  return h(
    "section",
    { "aria-labelledby": "hotlist-detail-h", class: "panel" },
    h("h3", { id: "hotlist-detail-h", tabindex: "-1" }, `Entries of ${list.name}`),
    entries.length
      ? table(
          `${entries.length} entr${entries.length === 1 ? "y" : "ies"} of ${list.name}`,
          ENTRY_HEADERS,
          entries.map((e) => entryRow(list, e, done)),
          { class: "data", id: "hotlist-entries" },
        )
      : h("p", { id: "no-entries" }, "This list has no entries yet."),
    h("h4", {}, "Add an entry"),
    addEntryForm(list, done),
    h("h4", {}, "Delete this list"),
    deleteForm(list, done),
  );
}

function listRow(list, open, onToggle) {
  const count = list.entries ? list.entries.length : "—";
  return h(
    "tr",
    { dataset: { hotlistId: list.id } },
    h("th", { scope: "row" }, list.name),
    h("td", { class: "num" }, list.priority),
    h("td", {}, list.reason),
    h("td", {}, list.expires_at ? time(list.expires_at) : "never"),
    h("td", { class: "num" }, Number(list.retention_days).toLocaleString()),
    h("td", { class: "num" }, count),
    h(
      "td",
      {},
      h(
        "button",
        {
          type: "button",
          "aria-expanded": open ? "true" : "false",
          "aria-controls": "hotlist-detail",
          onclick: () => onToggle(list.id),
        },
        open ? "Hide entries" : "Entries",
        h("span", { class: "visually-hidden" }, ` of ${list.name}`),
      ),
    ),
  );
}

/** The hotlists section; it keeps `known` (list id -> name) for the search to name a hit's list. */
function hotlistsSection(ctx, known) {
  const status = h("div", { id: "hotlists-status" });
  const errors = h("div", { id: "hotlists-errors" });
  const area = h("div", { id: "hotlists-area" }, h("p", {}, "Loading…"));
  const panel = h("div", { id: "hotlist-detail" });
  let lists = [];
  let selected = null;
  let generation = 0; // only the latest load draws, so a slow first load cannot undo a change

  function draw() {
    fill(
      area,
      lists.length
        ? table(
            "Hotlists, most urgent first",
            LIST_HEADERS,
            lists.map((l) => listRow(l, l.id === selected, toggle)),
            { class: "data", id: "hotlists" },
          )
        : h("p", { id: "no-hotlists" }, "No hotlists."),
    );
    const open = lists.find((l) => l.id === selected);
    fill(panel, open ? detail(open, changed) : null);
  }

  function toggle(id) {
    selected = selected === id ? null : id;
    draw();
    if (selected) panel.querySelector("h3")?.focus();
  }

  async function load() {
    const mine = ++generation;
    const summaries = await api.get("/hotlists");
    // the list answer leaves entries out; each list's own answer has them (and their count)
    const full = await Promise.all(
      summaries.map((l) => api.get(`/hotlists/${encodeURIComponent(l.id)}`)),
    );
    if (mine !== generation) return false;
    lists = full;
    known.clear();
    lists.forEach((l) => known.set(l.id, l.name));
    if (!lists.some((l) => l.id === selected)) selected = null;
    draw();
    return true;
  }

  async function refresh(notice) {
    fill(errors);
    try {
      if (!(await load())) return;
      fill(status, notice ? message("ok", notice) : null);
      if (notice) ctx.announce(notice);
    } catch (err) {
      fill(area);
      fill(panel);
      fill(errors, apiError(err, "Hotlists could not be loaded"));
    }
  }

  /** After a change: reload, keep (or open, or close with `open === null`) a list's entries. */
  async function changed(notice, open = selected) {
    selected = open;
    await refresh(notice);
    // the forms that had the focus were redrawn: move it to where the result shows
    (panel.querySelector("h3") ?? section.querySelector("#hotlists-h")).focus();
  }

  const section = h(
    "section",
    { "aria-labelledby": "hotlists-h" },
    h("h2", { id: "hotlists-h", tabindex: "-1" }, "Hotlists"),
    h(
      "p",
      { class: "muted" },
      "A read that matches an entry raises a plate-hit alert for a person to confirm. Every " +
        "change to a list is recorded in the audit chain with its reason; the plate itself is " +
        "kept only in the list.",
    ),
    status,
    errors,
    area,
    panel,
    ctx.can("plates:hotlists")
      ? [
          h("h3", {}, "New hotlist"),
          createForm((created) => changed(`Hotlist ${created.name} created.`, created.id)),
        ]
      : null,
  );
  return { section, refresh };
}

function hitRow(hit, known) {
  const listName = hit.hotlist_id ? known.get(hit.hotlist_id) : null;
  return h(
    "tr",
    { dataset: { readId: hit.id } },
    h("th", { scope: "row", class: "plate" }, hit.text),
    h("td", { class: "num" }, hit.distance),
    h("td", {}, hit.camera_id),
    h(
      "td",
      {},
      time(hit.read_at),
      " ",
      h(
        "a",
        {
          class: "play-footage",
          href: `#/playback/${encodeURIComponent(hit.camera_id)}/${encodeURIComponent(hit.read_at)}`,
        },
        "▶ footage",
      ),
    ),
    h("td", { class: "num" }, score(hit.confidence)),
    h("td", {}, listName ?? (hit.hotlist_id ? shortId(hit.hotlist_id) : "—")),
    // whole, not shortened: it is what an investigator quotes to put the read on legal hold
    h("td", { class: "id" }, hit.id),
  );
}

function scanLine(result) {
  const n = result.hits.length;
  const parts = [
    `Scanned ${result.scanned.toLocaleString()} plate read${result.scanned === 1 ? "" : "s"}; ` +
      `${n} match${n === 1 ? "" : "es"}.`,
    result.truncated
      ? " Truncated: this page stopped before the oldest reads in the window (it is full or " +
        "reached its time bound); older matches may exist: \"Older matches\" continues."
      : " Not truncated: every read in the window was checked.",
    n >= SEARCH_LIMIT ? ` ${SEARCH_LIMIT} matches a page.` : "",
  ];
  return h(
    "p",
    { id: "plate-scan", class: "notice", role: "status", dataset: { truncated: String(result.truncated) } },
    parts.join(""),
  );
}

/** The plate search (investigators): the API audits each search as `search.run`. */
function searchSection(ctx, known) {
  const errors = h("div", { id: "plate-search-errors" });
  const results = h("div", { id: "plate-results" });
  const pattern = h("input", {
    id: "search-pattern",
    name: "pattern",
    required: true,
    maxlength: 24,
    autocomplete: "off",
    "aria-describedby": "search-pattern-help",
  });
  const distance = h(
    "select",
    { id: "search-distance", name: "max_distance", "aria-describedby": "search-distance-help" },
    DISTANCES.map(([value, label]) => h("option", { value }, label)),
  );
  const since = h("input", { id: "search-since", name: "since", type: "datetime-local" });
  const until = h("input", { id: "search-until", name: "until", type: "datetime-local" });
  const reason = reasonInput("search-reason");
  reason.setAttribute("aria-describedby", "search-reason-help");
  const submit = h("button", { type: "submit" }, "Search");
  const form = h(
    "form",
    { id: "plate-search-form", class: "plates-form" },
    field("search-pattern", "Plate or partial plate", pattern, "? stands for one character, * for any run."),
    field("search-distance", "Fuzzy match", distance, "Also find reads this many characters off (a witness's partial memory, a misread)."),
    field("search-since", "From (optional)", since),
    field("search-until", "To (optional)", until),
    field("search-reason", "Reason (required; recorded in the audit chain)", reason),
    errors,
    submit,
  );
  // Set by "Older matches" for the one submit it triggers: the API pages newest first and hands
  // back next_cursor; a new search from the button starts again at page 1.
  let cursor = null;
  let page = 1;
  guarded(form, errors, submit, "The search was refused", async () => {
    const from = cursor;
    cursor = null;
    page = from ? page + 1 : 1;
    fill(results, h("p", {}, "Searching…"));
    try {
      const result = await api.post("/searches/plates", {
        pattern: pattern.value.trim(),
        max_distance: Number(distance.value),
        since: instant(since),
        until: instant(until),
        reason: reason.value.trim(),
        limit: SEARCH_LIMIT,
        cursor: from ?? undefined,
      });
      const older = result.next_cursor
        ? h(
            "button",
            {
              type: "button",
              id: "plate-older",
              onclick: () => {
                cursor = result.next_cursor;
                form.requestSubmit();
              },
            },
            "Older matches",
          )
        : null;
      fill(
        results,
        scanLine(result),
        h("p", { id: "plate-page" }, `Page ${page}.`),
        result.hits.length
          ? table(
              "Matching plate reads on this page, closest then newest first",
              HIT_HEADERS,
              result.hits.map((hit) => hitRow(hit, known)),
              { class: "data", id: "plate-hits" },
            )
          : h("p", { id: "no-plate-hits" }, "No stored read matches."),
        older,
      );
      ctx.announce(`Search done: ${result.hits.length} matches on page ${page}.`);
    } catch (err) {
      fill(results);
      throw err;
    }
  });
  return h(
    "section",
    { "aria-labelledby": "plate-search-h" },
    h("h2", { id: "plate-search-h" }, "Plate search"),
    h(
      "p",
      { class: "lead-note", id: "search-reason-help" },
      h("strong", {}, "Every search is audited. "),
      "Your name, the pattern, the fuzzy distance, the cameras, the time window, the number of " +
        "results and your reason are written to the audit chain before any result is shown. " +
        "Results cover only the cameras you are assigned.",
    ),
    form,
    results,
  );
}

export async function platesView(root, ctx) {
  const known = new Map(); // hotlist id -> name, to name the list a search hit is on
  const hotlists = hotlistsSection(ctx, known);
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Plates"),
    hotlists.section,
    ctx.can("plates:search")
      ? searchSection(ctx, known)
      : h("p", { class: "muted", id: "plate-search-note" }, "Plate search is for investigators."),
  );
  await hotlists.refresh();
  return null;
}
