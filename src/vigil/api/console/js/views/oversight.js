// The oversight report for auditors and authorising officers: deployments, faces scanned,
// alerts and their decisions, outcomes and purges over a period, as charts and tables, with a
// printable layout (the browser's "Save as PDF" makes the PDF). Built by the API from the
// deployments and the audit chain only: no face, template or image is in it.

import * as api from "../api.js";
import { barChart } from "../charts.js";
import { apiError, fill, h, message, rate, shortId, table, time, words } from "../dom.js";

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

export async function oversightView(root, ctx) {
  const area = h("div", { id: "oversight-area" });
  const to = new Date(Date.now() + 86400e3);
  const from = new Date(Date.now() - 30 * 86400e3);
  const fromIn = h("input", { id: "ov-from", type: "date", required: true, value: isoDay(from) });
  const toIn = h("input", { id: "ov-to", type: "date", required: true, value: isoDay(to) });
  const form = h(
    "form",
    { class: "row-form no-print", id: "oversight-form" },
    h("label", { for: "ov-from" }, "From"), fromIn,
    h("label", { for: "ov-to" }, "To (exclusive)"), toIn,
    h("button", { type: "submit" }, "Show report"),
    h("button", { type: "button", id: "ov-print", onclick: () => window.print() }, "Print or save as PDF"),
  );
  fill(root, h("h1", { tabindex: "-1" }, "Oversight report"), form, area);

  let names = {};
  if (ctx.can("audit:read")) {
    try {
      for (const a of await api.get("/audit/actors")) names[a.id] = a.username;
    } catch {
      names = {};
    }
  }
  const who = (id) => (id ? names[id] ?? shortId(id) : "—");

  async function load() {
    const q = new URLSearchParams({ from: `${fromIn.value}T00:00:00Z`, to: `${toIn.value}T00:00:00Z` });
    fill(area, h("p", {}, "Building the report…"));
    let doc;
    try {
      doc = await api.get(`/reports/oversight?${q}`);
    } catch (err) {
      fill(area, apiError(err, "The report could not be built"));
      return;
    }
    const t = doc.totals;
    const deps = doc.deployments.map((d) =>
      h(
        "tr",
        {},
        h("td", {}, words(d.purpose)),
        h("td", {}, d.legal_reference),
        h("td", {}, words(d.state)),
        h("td", {}, time(d.starts_at), " – ", time(d.ends_at)),
        h("td", {}, who(d.requested_by)),
        h("td", {}, who(d.authorised_by)),
        h("td", { class: "num" }, d.faces_scanned),
        h("td", { class: "num" }, d.alerts),
        h("td", { class: "num" }, d.confirmed),
        h("td", { class: "num" }, d.rejected),
        h("td", {}, d.observed_false_alert_rate === null ? "—" : rate(d.observed_false_alert_rate)),
      ),
    );
    let activity = null;
    if (ctx.can("audit:read")) {
      try {
        activity = await api.get(`/reports/activity?${q}`);
      } catch (err) {
        activity = { error: err };
      }
    }
    const acts = activity?.actions ? Object.entries(activity.actions).map(([k, v]) => ({ label: k, value: v })) : [];
    const outcomes = Object.entries(t.outcomes).map(([k, v]) => ({ label: words(k), value: v }));
    const purges = Object.entries(doc.purges).map(([k, v]) => ({ label: words(k), value: v }));
    fill(
      area,
      h("p", { class: "muted" }, `Period ${new Date(doc.from).toLocaleString()} to ${new Date(doc.to).toLocaleString()}; ${doc.audit_entries_in_period.toLocaleString()} audit entries. No biometric data is part of this report.`),
      h(
        "div",
        { class: "two-col" },
        barChart("Alerts and decisions", [
          { label: "faces scanned (÷1000)", value: Math.round(t.faces_scanned / 100) / 10, kind: "muted" },
          { label: "alerts raised", value: t.alerts },
          { label: "confirmed by two people", value: t.confirmed, kind: "ok" },
          { label: "rejected", value: t.rejected, kind: "bad" },
          { label: "pending", value: t.pending, kind: "warn" },
        ], { id: "chart-alerts" }),
        doc.deployments.length
          ? barChart("Alerts per deployment", doc.deployments.map((d) => ({ label: `${words(d.purpose)} ${d.id.slice(0, 6)}`, value: d.alerts })), { id: "chart-deployments" })
          : message("info", "No deployment in this period."),
        outcomes.length ? barChart("Outcomes recorded", outcomes, { id: "chart-outcomes" }) : message("info", "No outcome recorded in this period."),
        purges.length ? barChart("Purges and retention", purges, { id: "chart-purges" }) : message("info", "No purge or retention run in this period."),
      ),
      activity?.error ? apiError(activity.error, "Activity could not be loaded") : null,
      acts.length ? barChart("Audited activity in the period (searches, refusals, live views, enrolments, purges...)", acts, { id: "chart-activity" }) : null,
      h("p", {}, `Observed false-alert rate (rejected ÷ decided): ${t.observed_false_alert_rate === null ? "no decided alert" : rate(t.observed_false_alert_rate)}; mean calibrated rate shown on alerts: ${t.mean_calibrated_false_alert_rate === null ? "—" : rate(t.mean_calibrated_false_alert_rate)}.`),
      h("h2", {}, `Deployments (${doc.deployments.length})`),
      deps.length
        ? table("Deployments overlapping the period", ["Purpose", "Legal reference", "State", "Period", "Requested by", "Authorised by", "Faces scanned", "Alerts", "Confirmed", "Rejected", "Observed false-alert rate"], deps, { class: "data", id: "oversight-deployments" })
        : message("info", "No deployment in this period."),
    );
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  await load();
  return null;
}
