// Deployments: every authorisation for identification, with its purpose, legal basis, scope,
// time box and state.

import * as api from "../api.js";
import { apiError, badge, fill, h, pagedTable, shortId, time, words } from "../dom.js";
import { can } from "../roles.js";

export const PURPOSES = {
  victim_or_missing_person: "Search for a victim or a missing person",
  imminent_threat_or_terrorism: "Imminent threat to life or of a terrorist attack",
  suspect_offence_4y_plus: "Suspect of an offence punishable by 4 years or more",
};

const HEADERS = ["Purpose", "Legal basis", "Kind", "Cameras / zone", "Starts", "Ends", "Status", "Requested by", "Authorised by"];

function inForce(d, now) {
  return d.state === "approved" && new Date(d.starts_at) <= now && now < new Date(d.ends_at);
}

// What an authorising officer may do with a deployment in each state (the API decides).
const ACTIONS = {
  requested: ["approve", "refuse"],
  urgent_pending: ["approve", "refuse"],
  approved: ["revoke"],
};

const LABELS = { approve: "Approve", refuse: "Refuse", revoke: "Revoke" };
const DONE = { approve: "approved", refuse: "refused", revoke: "revoked" };

/** Approve / refuse / revoke with a mandatory reason; the API's refusal is shown as it came. */
function decide(d, refresh) {
  const actions = ACTIONS[d.state] ?? [];
  if (!actions.length) return "—";
  const errors = h("div", { class: "deployment-errors", role: "alert" });
  const reasonId = `reason-${d.id}`;
  const reason = h("input", { id: reasonId, name: "reason", required: true, maxlength: 2000 });
  const buttons = actions.map((action) =>
    h("button", { type: "submit", value: action, dataset: { action } }, LABELS[action]),
  );
  const form = h(
    "form",
    { class: "deployment-decision" },
    h("label", { for: reasonId }, "Reason (recorded)"),
    reason,
    buttons,
    errors,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const action = ev.submitter?.value;
    fill(errors);
    if (!reason.value.trim()) {
      fill(errors, h("p", { class: "error-text" }, "Give a reason for your decision."));
      return;
    }
    buttons.forEach((b) => (b.disabled = true));
    try {
      await api.post(`/deployments/${encodeURIComponent(d.id)}/${action}`, {
        reason: reason.value.trim(),
      });
      await refresh(`Deployment ${DONE[action]}.`);
    } catch (err) {
      fill(errors, apiError(err, `The ${action} was refused`));
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

/** The drift watch: rejected alerts significantly above the calibrated rate (seen at renewal). */
function driftNote(d) {
  if (!d.drift) return null;
  const dr = d.drift;
  const text = dr.flagged
    ? `⚠ false alerts above the calibrated rate: ${dr.false_alerts} rejected in ${dr.searches.toLocaleString("en")} searches (bound ${dr.predicted_rate_upper95.toPrecision(2)} per search)`
    : `drift watch: no flag (${dr.false_alerts} rejected in ${dr.searches.toLocaleString("en")} searches)`;
  return h("div", { class: dr.flagged ? "drift-flag error-text" : "hint", dataset: { drift: dr.flagged ? "flagged" : "ok" } }, text);
}

/** The force's own check of the calibration, or a plain statement that there is none. */
function checkNote(d) {
  if (!["requested", "urgent_pending"].includes(d.state) && !d.drift?.flagged) return null;
  return d.calibration_check
    ? h("div", { class: "hint calibration-check" }, "Local calibration check: ", h("a", { href: d.calibration_check }, d.calibration_check))
    : h(
        "div",
        { class: "hint calibration-check" },
        "No local calibration check on file: the rates come from LFW, which under-represents East Asian faces (vigil eval far --calibration).",
      );
}

function row(d, now, me, refresh) {
  const scope = [d.camera_ids.join(", "), d.zone ? `zone ${d.zone}` : ""].filter(Boolean).join("; ");
  return h(
    "tr",
    { dataset: { deploymentId: d.id } },
    h("td", {}, PURPOSES[d.purpose] ?? words(d.purpose)),
    h("td", {}, d.legal_reference),
    h("td", {}, words(d.kind)),
    h("td", {}, scope || "—"),
    h("td", {}, time(d.starts_at)),
    h("td", {}, time(d.ends_at)),
    h(
      "td",
      {},
      badge(d.state),
      inForce(d, now) ? h("span", { class: "in-force" }, " · in force now") : null,
      d.urgent_deadline ? h("span", { class: "hint" }, " · authorise by ", time(d.urgent_deadline)) : null,
      driftNote(d),
      checkNote(d),
    ),
    h("td", {}, shortId(d.requested_by, me)),
    h("td", {}, shortId(d.authorised_by, me)),
    refresh ? h("td", {}, decide(d, refresh)) : null,
  );
}

export async function deploymentsView(root, ctx) {
  const area = h("div", { id: "deployments-area" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Deployments"),
    h(
      "p",
      { class: "muted" },
      "No face is compared with a watchlist outside an approved deployment that is in force on " +
        "that camera. Each was requested by one person and authorised by a different officer.",
    ),
    area,
  );
  const officer = can(ctx.user, "deployments:decide");
  const headers = officer ? [...HEADERS, "Decision"] : HEADERS;
  let page = 0; // kept over a reload after a decision, so the officer stays where they were
  async function load(announcement) {
    try {
      const list = await api.get("/deployments");
      const now = new Date();
      const refresh = officer ? load : null;
      fill(
        area,
        announcement ? h("p", { class: "notice", role: "status" }, announcement) : null,
        list.length
          ? pagedTable("Deployments", headers, list.map((d) => row(d, now, ctx.user, refresh)), { class: "data", id: "deployments" }, {
              label: "Deployment pages",
              page,
              onPage: (k) => {
                page = k;
              },
            })
          : h("p", {}, "No deployments."),
      );
      if (announcement) ctx.announce(announcement);
    } catch (err) {
      fill(area, apiError(err, "Deployments could not be loaded"));
    }
  }
  await load();
  return null;
}
