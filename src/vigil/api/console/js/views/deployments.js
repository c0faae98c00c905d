// Deployments: every authorisation for identification, with its purpose, legal basis, scope,
// time box and state.

import * as api from "../api.js";
import { apiError, badge, fill, h, shortId, table, time, words } from "../dom.js";

export const PURPOSES = {
  victim_or_missing_person: "Search for a victim or a missing person",
  imminent_threat_or_terrorism: "Imminent threat to life or of a terrorist attack",
  suspect_offence_4y_plus: "Suspect of an offence punishable by 4 years or more",
};

const HEADERS = ["Purpose", "Legal basis", "Kind", "Cameras / zone", "Starts", "Ends", "Status", "Requested by", "Authorised by"];

function inForce(d, now) {
  return d.state === "approved" && new Date(d.starts_at) <= now && now < new Date(d.ends_at);
}

function row(d, now, me) {
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
    ),
    h("td", {}, shortId(d.requested_by, me)),
    h("td", {}, shortId(d.authorised_by, me)),
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
  try {
    const list = await api.get("/deployments");
    const now = new Date();
    fill(
      area,
      list.length
        ? table("Deployments", HEADERS, list.map((d) => row(d, now, ctx.user)), { class: "data", id: "deployments" })
        : h("p", {}, "No deployments."),
    );
  } catch (err) {
    fill(area, apiError(err, "Deployments could not be loaded"));
  }
  return null;
}
