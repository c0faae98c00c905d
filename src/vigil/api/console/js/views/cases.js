// Cases: the list of the caller's cases (#/cases) and one case's page (#/cases/<id>): what it
// holds, the outcomes recorded, its state (open, closed, on hold), and the evidence export.
// Every step asks for the reason the API requires; refusals are shown as the API gave them.

import * as api from "../api.js";
import { apiError, fill, h, message, shortId, table, time } from "../dom.js";
import { appearancesTable } from "./footage.js";

const OUTCOMES = [
  ["arrest", "arrest"],
  ["charged", "charged"],
  ["no_further_action", "no further action"],
  ["false_match", "false match"],
  ["other", "other"],
];

function reasonField(id, label) {
  return h(
    "p",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: "reason", required: true, minlength: 3, maxlength: 2000 }),
  );
}

/** `#/cases`: the cases the caller opened or was shared (auditors: all). */
export async function casesView(root, ctx) {
  fill(root, h("h1", { tabindex: "-1" }, "Cases"), message("info", "Loading cases…"));
  let cases;
  try {
    cases = await api.get("/cases");
  } catch (err) {
    fill(root, h("h1", { tabindex: "-1" }, "Cases"), apiError(err, "Cases could not be read"));
    return;
  }
  const rows = cases.map((c) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/cases/${encodeURIComponent(c.id)}` }, c.title)),
      h("td", {}, c.status),
      h("td", {}, c.legal_hold ? "on legal hold" : "released"),
      h("td", {}, shortId(c.opened_by, ctx.user)),
      h("td", {}, time(c.opened_at)),
    ),
  );
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Cases"),
    rows.length
      ? table("Your cases, newest first", ["Title", "State", "Hold", "Opened by", "Opened"], rows)
      : message("info", "No cases yet."),
  );
}

function itemsTable(c) {
  const rows = c.links.map((k) =>
    h("tr", {}, h("td", {}, k.kind.replace("_", " ")), h("td", {}, shortId(k.target_id)),
      h("td", {}, shortId(k.added_by)), h("td", {}, time(k.added_at))),
  );
  const hidden = c.hidden_links
    ? message("info", `${c.hidden_links} more items are of cameras you cannot see.`)
    : null;
  return [
    rows.length
      ? table("Items held by the case", ["Kind", "Record", "Added by", "Added"], rows, { id: "case-items" })
      : message("info", "The case holds no items yet."),
    hidden,
  ];
}

function outcomesTable(c) {
  const rows = c.outcomes.map((o) =>
    h("tr", {}, h("td", {}, o.outcome.replaceAll("_", " ")), h("td", {}, o.reason),
      h("td", {}, o.alert_id ? shortId(o.alert_id) : "the case"), h("td", {}, shortId(o.recorded_by)),
      h("td", {}, time(o.recorded_at))),
  );
  return rows.length
    ? table("Outcomes", ["Outcome", "Reason", "Follows from", "Recorded by", "Recorded"], rows, { id: "case-outcomes" })
    : message("info", "No outcome recorded yet.");
}

function outcomeForm(c, done, status) {
  const alerts = c.links.filter((k) => k.kind === "alert");
  const form = h(
    "form",
    { id: "outcome-form", "aria-label": "Record an outcome" },
    h("h2", {}, "Record an outcome"),
    h("p", { class: "field" }, h("label", { for: "outcome" }, "Outcome"),
      h("select", { id: "outcome", name: "outcome" }, OUTCOMES.map(([v, t]) => h("option", { value: v }, t)))),
    h("p", { class: "field" }, h("label", { for: "outcome-alert" }, "Follows from alert"),
      h("select", { id: "outcome-alert" }, h("option", { value: "" }, "the case as a whole"),
        alerts.map((k) => h("option", { value: k.target_id }, k.target_id)))),
    reasonField("outcome-reason", "Reason"),
    h("button", { type: "submit" }, "Record outcome"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const alert = form.querySelector("#outcome-alert").value;
    const body = { outcome: form.querySelector("#outcome").value, reason: form.querySelector("#outcome-reason").value };
    if (alert) body.alert_id = alert;
    try {
      await api.post(`/cases/${encodeURIComponent(c.id)}/outcomes`, body);
      done("Outcome recorded.");
    } catch (err) {
      fill(status, apiError(err, "Outcome refused"));
    }
  });
  return form;
}

function stepForm(c, done, status) {
  const steps = c.status === "open"
    ? [["close", "Close case"]]
    : [["reopen", "Reopen case"], ...(c.legal_hold ? [["release-holds", "Release holds"]] : [])];
  const form = h(
    "form",
    { id: "step-form", "aria-label": "Case state" },
    h("h2", {}, "Case state"),
    reasonField("step-reason", "Reason for the change"),
    steps.map(([step, label]) => h("button", { type: "submit", value: step }, label)),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const step = ev.submitter?.value ?? steps[0][0];
    try {
      await api.post(`/cases/${encodeURIComponent(c.id)}/${step}`, { reason: form.querySelector("#step-reason").value });
      done(`Done: ${step.replace("-", " ")}.`);
    } catch (err) {
      fill(status, apiError(err, "Refused"));
    }
  });
  return form;
}

function exportForm(c, status) {
  const result = h("div", { id: "export-result", role: "status" });
  const unredacted = h("input", { type: "checkbox", id: "export-unredacted" });
  const form = h(
    "form",
    { id: "export-form", "aria-label": "Export evidence" },
    h("h2", {}, "Export evidence"),
    h("p", {}, "The bundle is signed and lists the SHA-256 of every file with the audit entries "
      + "that prove each item. Bystanders' faces and plates are blurred unless you say why not."),
    h("p", { class: "field" }, unredacted, h("label", { for: "export-unredacted" }, " Unredacted (needs a reason; audited)")),
    h("p", { class: "field" }, h("label", { for: "export-reason" }, "Reason"),
      h("input", { id: "export-reason", maxlength: 2000 })),
    h("button", { type: "submit" }, "Export bundle"),
    result,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(result, message("info", "Exporting… (redaction can take a while)"));
    const body = { redact: !unredacted.checked, reason: form.querySelector("#export-reason").value };
    try {
      const response = await api.call("POST", `/cases/${encodeURIComponent(c.id)}/exports`, { body, raw: true });
      const sha = response.headers.get("X-Manifest-SHA256") ?? "";
      const url = URL.createObjectURL(await response.blob());
      fill(result, message("ok", "Bundle ready. "),
        h("a", { href: url, download: `case-${c.id}.zip`, id: "export-download" }, "Download the bundle"),
        h("p", {}, "Manifest SHA-256: ", h("code", { id: "export-sha" }, sha)));
    } catch (err) {
      fill(result);
      fill(status, apiError(err, "Export refused"));
    }
  });
  return form;
}

// Footage searches of the case: each job, and (investigators) its appearances with clip links.
function footageSearches(c) {
  const jobs = c.footage_searches || [];
  if (!jobs.length) return message("info", "No footage search for this case.");
  return jobs.map((f, i) => {
    const j = f.job;
    const what = j.kind === "plate" ? `plate ${j.query}` : "face (probe photo)";
    return h(
      "section",
      { class: "footage-job", dataset: { jobId: j.id } },
      h("h3", {}, `Search for ${what}`),
      h("p", {}, `${j.state}, ${j.segments_done} of ${j.segments_total} segments; cameras ${j.camera_ids.join(", ")}; `,
        time(j.start), " to ", time(j.end)),
      f.appearances == null
        ? message("info", "Appearances are shown to investigators.")
        : appearancesTable(j.kind, f, `case-appearances-${i}`),
      f.truncated ? message("info", "More hits than one view groups; open the search with a narrower window.") : null,
    );
  });
}

/** `#/cases/<id>`: one case. */
export async function caseDetailView(root, ctx, params) {
  const status = h("div", { id: "case-status" });
  async function load(notice) {
    let c;
    try {
      c = await api.get(`/cases/${encodeURIComponent(params.id)}`);
    } catch (err) {
      fill(root, h("h1", { tabindex: "-1" }, "Case"), apiError(err, "The case could not be read"));
      return;
    }
    const mayWork = ctx.can("cases:work");
    const done = (text) => load(text);
    fill(
      root,
      h("h1", { tabindex: "-1" }, `Case: ${c.title}`),
      h("p", { id: "case-state" }, `State: ${c.status}; `, c.legal_hold ? "on legal hold" : "holds released",
        "; opened ", time(c.opened_at), " by ", shortId(c.opened_by, ctx.user)),
      notice ? message("ok", notice) : null,
      status,
      h("h2", {}, "Items"),
      itemsTable(c),
      h("h2", {}, "Footage searches"),
      footageSearches(c),
      h("h2", {}, "Outcomes"),
      outcomesTable(c),
      mayWork && c.status === "open" ? outcomeForm(c, done, status) : null,
      mayWork ? stepForm(c, done, status) : null,
      mayWork ? exportForm(c, status) : null,
    );
    if (notice) ctx.announce(notice);
  }
  await load(null);
}
