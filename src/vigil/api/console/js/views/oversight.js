// The oversight report for auditors and authorising officers: deployments, faces scanned,
// alerts and their decisions, outcomes and purges over a period, as charts and tables, with a
// printable layout (the browser's "Save as PDF" makes the PDF). Built by the API from the
// deployments and the audit chain only: no face, template or image is in it. Everything the
// report JSON has is shown: per deployment the rejected alerts per face scanned with their exact
// 95% interval beside the calibrated bound the alerts displayed, the drift watch, and the cases
// section (what the alerts led to; the reviewers' false-match rate beside the calibrated rate).

import * as api from "../api.js";
import { barChart, intervalChart, sci } from "../charts.js";
import { apiError, fill, h, message, rate, shortId, table, time, words } from "../dom.js";

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

/** The drift watch of one deployment, in words (flagged since when, or its counts so far). */
function driftText(dr) {
  if (!dr) return "not watched (no alert decided yet)";
  const seen = `${dr.false_alerts} rejected in ${dr.searches.toLocaleString("en")} searches`;
  return dr.flagged
    ? ["FLAGGED since ", time(dr.flagged_at), ` (after ${dr.flagged_after_searches.toLocaleString("en")} searches; now ${seen})`]
    : `no flag (${seen})`;
}

/** Rejected alerts per face scanned with the exact interval, beside the displayed bound. */
function falseAlertSection(deployments) {
  const label = (d) => `${words(d.purpose)} ${d.id.slice(0, 6)}`;
  const rows = deployments.map((d) => {
    const ci = d.rejected_per_search_ci95;
    const flagged = d.drift?.flagged ?? false;
    return h(
      "tr",
      { dataset: { deploymentId: d.id } },
      h("th", { scope: "row" }, label(d)),
      h("td", { class: "num" }, d.faces_scanned.toLocaleString("en")),
      h("td", { class: "num" }, d.rejected),
      h("td", { class: "num fpr-observed" }, sci(d.rejected_per_search)),
      h("td", { class: "num fpr-interval" }, ci ? `${sci(ci[0])} – ${sci(ci[1])}` : "no face scanned"),
      h("td", { class: "num fpr-bound" }, sci(d.mean_calibrated_false_alert_rate)),
      h("td", { class: "num" }, sci(d.mean_calibrated_false_alert_point)),
      h("td", { class: flagged ? "drift-flag error-text" : "", dataset: { drift: d.drift ? (flagged ? "flagged" : "ok") : "none" } }, driftText(d.drift)),
    );
  });
  const items = deployments.map((d) => ({
    label: label(d),
    point: d.rejected_per_search,
    lo: d.rejected_per_search_ci95?.[0] ?? null,
    hi: d.rejected_per_search_ci95?.[1] ?? null,
    bound: d.mean_calibrated_false_alert_rate,
  }));
  return [
    h("h2", {}, "False alerts per search and the drift watch"),
    h("p", {}, "Rejected alerts per face scanned, with the exact (Clopper–Pearson) 95% interval, beside the calibrated false-alert rate the alerts displayed (mean one-sided 95% upper bound, and its point estimate). A drift flag means rejections ran significantly above the calibrated rate (a sequential test per deployment)."),
    deployments.length ? intervalChart("Observed false alerts per search against the displayed bound", items, { id: "chart-fpr" }) : null,
    rows.length
      ? table("False alerts per search, per deployment", ["Deployment", "Faces scanned", "Rejected", "Rejected per search", "95% interval", "Bound displayed", "Point displayed", "Drift watch"], rows, { class: "data", id: "oversight-fpr" })
      : message("info", "No deployment in this period."),
  ];
}

/** The cases section: lifecycle counts, what alerts led to, reviewers' rate beside calibration. */
function casesSection(c) {
  if (!c) return [];
  const count = (k, v) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "num" }, v));
  const alertOut = Object.entries(c.alert_outcomes).map(([k, v]) => ({ label: words(k), value: v }));
  const caseOut = Object.entries(c.case_outcomes).map(([k, v]) => ({ label: words(k), value: v }));
  const pct = (p) => (p === null ? "no decided alert" : `${Number((p * 100).toPrecision(2))}% of decided alerts`);
  return [
    h("h2", {}, "Cases and outcomes"),
    h(
      "div",
      { class: "two-col" },
      table("Cases in the period", ["Step", "Count"], [
        count("Cases opened", c.cases_opened),
        count("Cases closed", c.cases_closed),
        count("Cases reopened", c.cases_reopened),
        count("Legal holds released", c.holds_released),
        count("Evidence exports", c.exports),
        count("Face alerts raised", c.alerts_raised),
        count("confirmed by two people", c.alerts_confirmed),
        count("rejected", c.alerts_rejected),
        count("leading to a recorded outcome", c.alerts_with_outcome),
      ], { class: "data", id: "oversight-cases" }),
      alertOut.length ? barChart("Face alerts by the outcome they led to", alertOut, { id: "chart-alert-outcomes" }) : message("info", "No face alert led to a recorded outcome in this period."),
      caseOut.length ? barChart("Outcomes recorded on cases (with or without an alert)", caseOut, { id: "chart-case-outcomes" }) : null,
    ),
    table("False matches seen by reviewers beside the calibrated rate", ["Rate", "Value", "What it answers"], [
      h("tr", {}, h("th", { scope: "row" }, "Reviewers' false-match rate"), h("td", { class: "num", id: "reviewer-rate" }, pct(c.reviewer_false_match_rate)), h("td", {}, "per alert: how often a lead was wrong (rejected, or confirmed and later a false match)")),
      h("tr", {}, h("th", { scope: "row" }, "Calibrated false-alert rate shown on the alerts"), h("td", { class: "num", id: "calibrated-rate" }, c.mean_calibrated_false_alert_rate === null ? "—" : rate(c.mean_calibrated_false_alert_rate)), h("td", {}, "per face compared: how often a passer-by raises an alert (mean 95% upper bound)")),
    ], { class: "data", id: "oversight-review" }),
  ];
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
      ...falseAlertSection(doc.deployments),
      ...casesSection(doc.cases),
    );
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  await load();
  return null;
}
