// Alerts: the live queue and one alert's detail, images and two-person verification.

import * as api from "../api.js";
import {
  apiError,
  badge,
  fill,
  h,
  message,
  rate,
  score,
  shortId,
  table,
  time,
  words,
} from "../dom.js";

const STATUSES = ["pending", "one_confirmed", "actionable", "rejected", "expired"];
const OPEN = new Set(["pending", "one_confirmed"]);
const KIND_NAMES = {
  face_match: "face match",
  plate_hit: "plate hit",
  crowd: "crowd level",
  tamper: "camera tamper",
};
const FACE = "face_match";
const OUTCOMES = ["located", "arrest", "cleared", "false_alert", "no_action"];

function alertRow(alert, isNew = false) {
  return h(
    "tr",
    { class: isNew ? "new" : false, dataset: { alertId: alert.id } },
    h("td", {}, time(alert.raised_at)),
    h("td", {}, alert.camera_id),
    h("td", {}, KIND_NAMES[alert.kind] ?? words(alert.kind)),
    h("td", { class: "num" }, score(alert.score)),
    h("td", {}, alert.kind === FACE ? rate(alert.false_alert_rate) : "—"),
    h("td", {}, badge(alert.status)),
    h(
      "td",
      {},
      h(
        "a",
        { href: `#/alerts/${encodeURIComponent(alert.id)}`, class: "open-alert" },
        "Open",
        h("span", { class: "visually-hidden" }, ` alert on ${alert.camera_id}`),
      ),
    ),
  );
}

const HEADERS = ["Raised", "Camera", "Kind", "Score", "False-alert rate at score", "Status", ""];

/** The alert queue, newest first; new alerts arrive over the WebSocket without a reload. */
export async function alertsView(root, ctx) {
  const filter = h(
    "select",
    { id: "status-filter", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((s) => h("option", { value: s }, words(s))),
  );
  const body = h("tbody", { id: "alert-rows" });
  const empty = h("p", { id: "no-alerts", hidden: true }, "No alerts yet. New ones appear here.");
  const errors = h("div", { id: "alerts-errors" });
  const list = h(
    "table",
    { class: "data", id: "alerts" },
    h("caption", {}, "Alerts, newest first (updates live)"),
    h("thead", {}, h("tr", {}, HEADERS.map((x) => h("th", { scope: "col" }, x)))),
    body,
  );
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Alerts"),
    h(
      "p",
      { class: "lead-note" },
      h("strong", {}, "Each alert is a lead, not an identification. "),
      "Two different people must confirm it before anyone acts on it.",
    ),
    h("p", {}, h("label", { for: "status-filter" }, "Show status "), filter),
    errors,
    list,
    empty,
  );

  async function load() {
    const status = filter.value;
    const query = status ? `?limit=100&status=${encodeURIComponent(status)}` : "?limit=100";
    try {
      const page = await api.get(`/alerts${query}`);
      fill(errors);
      fill(body, page.items.map((a) => alertRow(a)));
      list.hidden = false;
      empty.hidden = page.items.length > 0;
    } catch (err) {
      fill(errors, apiError(err, "Alerts could not be loaded"));
      list.hidden = true;
    }
  }

  filter.addEventListener("change", load);
  await load();
  return ctx.live.subscribe((event) => {
    if (event.type === "reconnected") {
      load();
      return;
    }
    if (event.type !== "alert" || !event.alert) return;
    const a = event.alert;
    if (filter.value && filter.value !== a.status) return;
    if (body.querySelector(`tr[data-alert-id="${CSS.escape(a.id)}"]`)) return;
    empty.hidden = true;
    body.prepend(alertRow(a, true));
    ctx.announce(`New alert on camera ${a.camera_id}, score ${score(a.score)}.`);
  });
}

/**
 * What the displayed rate rests on: the 95% upper bound (the number shown and acted on), the
 * point estimate beside it, and the impostor comparisons of the calibration behind both.
 */
function farBasis(far) {
  if (!far) return h("span", { id: "fact-far-basis", class: "hint" }, " (no confidence bound: raised before bounds were stored)");
  const n = far.calibration_comparisons.toLocaleString("en");
  return h(
    "span",
    { id: "fact-far-basis", class: "far-basis" },
    h("br"),
    `Interval: ${far.point.toPrecision(2)} (point estimate) to ${far.upper_bound.toPrecision(2)} ` +
      `(one-sided 95% upper bound, exact binomial), from ${far.calibration_count.toLocaleString("en")} ` +
      `of ${n} impostor comparisons at or above this score.`,
  );
}

function facts(alert) {
  const face = alert.kind === FACE;
  const rows = [
    ["Status", badge(alert.status)],
    ["Kind", KIND_NAMES[alert.kind] ?? words(alert.kind)],
    ["Camera", alert.camera_id],
    [
      "Raised",
      h(
        "span",
        {},
        time(alert.raised_at),
        " ",
        h(
          "a",
          {
            id: "play-footage",
            href: `#/playback/${encodeURIComponent(alert.camera_id)}/${encodeURIComponent(alert.raised_at)}`,
          },
          "▶ footage around it",
        ),
      ),
    ],
    [face ? "Similarity score" : "Score", h("span", { id: "fact-score" }, score(alert.score))],
    [
      "Calibrated false-alert rate at this score",
      h(
        "span",
        { id: "fact-far" },
        alert.false_alert ? alert.false_alert.text : rate(alert.false_alert_rate),
        h(
          "span",
          { class: "hint" },
          " — how often a search for someone not on the watchlist would score this high, " +
            "for a watchlist of this size (measured, not guessed).",
        ),
        farBasis(alert.false_alert),
      ),
    ],
    [
      "Margin over the next candidate (rank 2)",
      h(
        "span",
        { id: "fact-margin" },
        alert.rank2_margin === null ? "— (only one candidate)" : score(alert.rank2_margin),
        h(
          "span",
          { class: "hint" },
          " — a small margin means another enrolled person scored almost as high.",
        ),
      ),
    ],
    ["Deployment", alert.deployment_id ? h("a", { href: "#/deployments" }, shortId(alert.deployment_id)) : "—"],
    ["Watchlist subject", shortId(alert.subject_id)],
    ["Detail", h("span", { id: "fact-detail" }, alert.detail || "—")],
  ];
  // the false-alert rate and the rank-2 margin describe face matches only
  const shown = face ? rows : rows.filter((_, i) => i < 5 || i > 6);
  return h(
    "dl",
    { class: "facts" },
    shown.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function banner() {
  return h(
    "section",
    { class: "lead-banner", role: "note", "aria-label": "A lead, not an identification" },
    h("p", { class: "lead-title" }, "This is a lead, not an identification."),
    h(
      "p",
      {},
      "It needs two independent confirmations — by two different people, the second a " +
        "supervisor — before anyone acts on it. Compare the faces yourself: the score alone " +
        "proves nothing, and look-alikes happen.",
    ),
  );
}

function imagesSection(alert, ctx, urls) {
  const out = h("div", { class: "faces", id: "faces" });
  const reason = h("input", {
    id: "view-reason",
    name: "reason",
    required: true,
    minlength: 3,
    maxlength: 500,
    "aria-describedby": "view-reason-help",
  });
  const form = h(
    "form",
    { id: "view-form" },
    h("label", { for: "view-reason" }, "Why are you viewing these faces?"),
    reason,
    h(
      "p",
      { id: "view-reason-help", class: "hint" },
      "Face images are biometric data: your name, this alert and your reason are written to " +
        "the audit log before they are shown.",
    ),
    h("button", { type: "submit" }, "Show face images"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const why = reason.value.trim();
    fill(out, h("p", {}, "Loading…"));
    const figures = await Promise.all(
      [
        ["probe", `Probe: the face crop from camera ${alert.camera_id}`],
        ["enrolled", "Enrolled photo of the watchlist subject"],
      ].map(async ([what, caption]) => {
        try {
          const url = await api.biometricImage(alert.id, what, why);
          urls.push(url);
          return h(
            "figure",
            {},
            h("img", { src: url, alt: caption, id: `img-${what}` }),
            h("figcaption", {}, caption),
          );
        } catch (err) {
          return h("figure", {}, apiError(err, caption));
        }
      }),
    );
    fill(out, figures);
  });
  return h(
    "section",
    { "aria-labelledby": "faces-h" },
    h("h2", { id: "faces-h" }, "Face images"),
    form,
    out,
  );
}

function decisionsSection(alert, decisions, ctx) {
  const rows = decisions.map((d) =>
    h(
      "tr",
      {},
      h("td", {}, shortId(d.user_id, ctx.user)),
      h("td", {}, badge(d.decision)),
      h("td", {}, d.reason),
      h("td", {}, time(d.decided_at)),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "decisions-h" },
    h("h2", { id: "decisions-h" }, "Decisions"),
    rows.length
      ? table("Decisions so far", ["Who", "Decision", "Reason", "When"], rows, {
          class: "data",
          id: "decisions",
        })
      : h("p", { id: "no-decisions" }, "No decisions yet."),
  );
}

function decisionForm(alert, decisions, ctx, done) {
  const errors = h("div", { id: "decision-errors" });
  const reason = h("textarea", {
    id: "decision-reason",
    name: "reason",
    required: true,
    maxlength: 2000,
    rows: 3,
  });
  const radio = (value, label) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: "decision", value, required: true, id: `decision-${value}` }),
      ` ${label}`,
    );
  const already = decisions.some((d) => d.user_id === ctx.user.id);
  const notes = [];
  if (already) {
    notes.push(
      message(
        "info",
        "You already recorded a decision on this alert. The next confirmation must come from a " +
          "different person.",
      ),
    );
  } else if (alert.status === "one_confirmed") {
    notes.push(
      message("info", "One person has confirmed. The second confirmation must be a supervisor's."),
    );
  }
  const submit = h("button", { type: "submit", id: "decision-submit" }, "Record decision");
  const form = h(
    "form",
    { id: "decision-form", "aria-describedby": "decision-errors" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Your decision"),
      radio("confirm", "Confirm — I believe this is the same person"),
      radio("reject", "Reject — this is not the same person, or I cannot tell"),
    ),
    h("p", {}, h("label", { for: "decision-reason" }, "Reason (required; recorded with your decision)"), reason),
    errors,
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    const choice = form.querySelector("input[name=decision]:checked");
    if (!choice || !reason.value.trim()) {
      fill(errors, message("error", "Choose confirm or reject and give a reason."));
      return;
    }
    submit.disabled = true;
    try {
      const updated = await api.post(`/alerts/${encodeURIComponent(alert.id)}/decisions`, {
        decision: choice.value,
        reason: reason.value.trim(),
      });
      await done(`Decision recorded. The alert is now ${words(updated.status)}.`);
    } catch (err) {
      fill(errors, apiError(err, "The decision was refused"));
      submit.disabled = false;
    }
  });
  return h(
    "section",
    { "aria-labelledby": "decide-h" },
    h("h2", { id: "decide-h" }, "Verify"),
    notes,
    form,
  );
}

function outcomeForm(alert, done) {
  const errors = h("div", { id: "outcome-errors" });
  const outcome = h(
    "select",
    { id: "outcome", name: "outcome", required: true },
    OUTCOMES.map((o) => h("option", { value: o }, words(o))),
  );
  const reason = h("input", { id: "outcome-reason", required: true, maxlength: 2000 });
  const form = h(
    "form",
    { id: "outcome-form" },
    h("p", {}, h("label", { for: "outcome" }, "What came of it "), outcome),
    h("p", {}, h("label", { for: "outcome-reason" }, "Reason "), reason),
    errors,
    h("button", { type: "submit" }, "Record outcome"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    try {
      await api.post(`/alerts/${encodeURIComponent(alert.id)}/outcome`, {
        outcome: outcome.value,
        reason: reason.value.trim(),
      });
      await done(`Outcome recorded: ${words(outcome.value)}.`);
    } catch (err) {
      fill(errors, apiError(err, "The outcome was refused"));
    }
  });
  return h("section", { "aria-labelledby": "outcome-h" }, h("h2", { id: "outcome-h" }, "Outcome"), form);
}

/** One alert: the lead banner, its numbers, the faces (audited), decisions and the forms.
 * After a decision only the parts that change are redrawn, so faces already shown stay. */
export async function alertDetailView(root, ctx, { id }) {
  const urls = [];
  const release = () => urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  const status = h("div", { id: "detail-status" });
  const factsBox = h("div");
  const decisionsBox = h("div");
  const formsBox = h("div");
  const path = `/alerts/${encodeURIComponent(id)}`;

  async function load() {
    return Promise.all([api.get(path), api.get(`${path}/decisions`)]);
  }

  function draw(alert, decisions, notice) {
    fill(status, notice ? message("ok", notice) : null);
    fill(factsBox, facts(alert));
    fill(decisionsBox, decisionsSection(alert, decisions, ctx));
    fill(
      formsBox,
      ctx.can("alerts:decide") && OPEN.has(alert.status)
        ? decisionForm(alert, decisions, ctx, refresh)
        : null,
      ctx.can("alerts:outcome") && alert.status === "actionable"
        ? outcomeForm(alert, refresh)
        : null,
    );
  }

  async function refresh(notice) {
    try {
      const [alert, decisions] = await load();
      draw(alert, decisions, notice);
      ctx.announce(notice);
    } catch (err) {
      fill(status, apiError(err, "This alert could not be reloaded"));
    }
  }

  let alert;
  let decisions;
  try {
    [alert, decisions] = await load();
  } catch (err) {
    fill(
      root,
      h("p", {}, h("a", { href: "#/alerts" }, "← All alerts")),
      h("h1", { tabindex: "-1" }, "Alert"),
      apiError(err, "This alert could not be shown"),
    );
    return null;
  }
  const kind = KIND_NAMES[alert.kind] ?? words(alert.kind);
  fill(
    root,
    h("p", {}, h("a", { href: "#/alerts" }, "← All alerts")),
    h("h1", { tabindex: "-1" }, `Alert: ${kind} on ${alert.camera_id}`),
    alert.kind === FACE ? banner() : null,
    status,
    factsBox,
    ctx.can("alerts:images") && alert.kind === FACE ? imagesSection(alert, ctx, urls) : null,
    decisionsBox,
    formsBox,
  );
  draw(alert, decisions, null);
  return release;
}
