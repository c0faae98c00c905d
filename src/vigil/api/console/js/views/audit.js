// The audit chain for auditors: the result of verifying every link now, and the latest entries
// (references and reasons only; the chain holds no biometric data), filtered by who, what,
// which record and when, with people's names, a page at a time.

import * as api from "../api.js";
import { apiError, fill, h, message, table, time } from "../dom.js";

const RECENT = 50;

export async function auditView(root, ctx) {
  const me = ctx.user;
  const result = h("div", { id: "verify-result" });
  const recent = h("div", { id: "audit-recent" });
  const again = h("button", { type: "button", id: "verify-again" }, "Verify again");
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Audit"),
    h(
      "section",
      { "aria-labelledby": "verify-h" },
      h("h2", { id: "verify-h" }, "Audit chain verification"),
      h(
        "p",
        { class: "muted" },
        "Every entry is hash-chained to the one before; verifying recomputes every link and the " +
          "external anchor, and names the first broken link if there is one.",
      ),
      result,
      again,
    ),
    h("section", { "aria-labelledby": "recent-h" }, h("h2", { id: "recent-h" }, "Entries"), recent),
  );

  async function verify() {
    fill(result, h("p", {}, "Verifying…"));
    again.disabled = true;
    try {
      const chain = await api.get("/audit/verify");
      const text = chain.ok
        ? `Chain intact: ${chain.entries.toLocaleString()} entries checked.`
        : `Chain BROKEN: ${chain.entries.toLocaleString()} entries checked.`;
      fill(
        result,
        h(
          "div",
          { class: `msg ${chain.ok ? "msg-ok" : "msg-error"}`, role: chain.ok ? "status" : "alert", dataset: { ok: String(chain.ok) } },
          h("strong", {}, text),
          " ",
          chain.description,
        ),
      );
      await loadRecent();
    } catch (err) {
      fill(result, apiError(err, "Verification could not run"));
    } finally {
      again.disabled = false;
    }
  }

  // The entries, newest first, filtered by actor, action, target and time, a page at a time
  // (keyset paging: "older than the last one shown"), with each actor's name.
  const actorSel = h("select", { id: "f-actor" }, h("option", { value: "" }, "Anyone"));
  const actionIn = h("input", { id: "f-action", placeholder: "e.g. alert. or watchlist.enrol", maxlength: 200 });
  const targetIn = h("input", { id: "f-target", placeholder: "e.g. camera:cam-1", maxlength: 200 });
  const sinceIn = h("input", { id: "f-since", type: "datetime-local" });
  const untilIn = h("input", { id: "f-until", type: "datetime-local" });
  const filters = h(
    "form",
    { class: "row-form filters", id: "audit-filters" },
    h("label", { for: "f-actor" }, "Who"), actorSel,
    h("label", { for: "f-action" }, "Action starts with"), actionIn,
    h("label", { for: "f-target" }, "Target starts with"), targetIn,
    h("label", { for: "f-since" }, "From"), sinceIn,
    h("label", { for: "f-until" }, "Before"), untilIn,
    h("button", { type: "submit" }, "Filter"),
  );
  recent.before(filters);
  try {
    for (const a of await api.get("/audit/actors")) {
      actorSel.append(h("option", { value: a.id }, a.display_name ? `${a.username} (${a.display_name})` : a.username));
    }
    actorSel.append(h("option", { value: "system" }, "system"));
  } catch (err) {
    filters.append(apiError(err, "Names could not be loaded"));
  }
  let cursors = [null]; // before_seq of each page shown so far
  let pageNo = 0;

  async function loadRecent() {
    const q = new URLSearchParams({ limit: String(RECENT) });
    if (actorSel.value) q.set("actor", actorSel.value);
    if (actionIn.value.trim()) q.set("action", actionIn.value.trim());
    if (targetIn.value.trim()) q.set("target", targetIn.value.trim());
    if (sinceIn.value) q.set("since", new Date(sinceIn.value).toISOString());
    if (untilIn.value) q.set("until", new Date(untilIn.value).toISOString());
    if (cursors[pageNo]) q.set("before_seq", String(cursors[pageNo]));
    try {
      const page = await api.get(`/audit/search?${q}`);
      cursors[pageNo + 1] = page.next_before_seq;
      const rows = page.items.map((e) =>
        h(
          "tr",
          {},
          h("td", { class: "num" }, e.seq),
          h("td", {}, time(e.at)),
          h("td", { class: "actor" }, e.actor === me.id ? `you (${e.actor_name})` : e.actor_name),
          h("td", { class: "action" }, e.action),
          h("td", {}, e.target),
          h("td", {}, e.reason, e.details.length ? h("span", { class: "details" }, e.details.map(([k, v]) => `${k}=${v}`).join("; ")) : null),
        ),
      );
      fill(
        recent,
        rows.length
          ? table("Entries, newest first", ["#", "When", "Who", "Action", "Target", "Reason and details"], rows, { class: "data", id: "audit-entries" })
          : message("info", "No entry matches."),
        h(
          "nav",
          { class: "pager", "aria-label": "Audit pages" },
          h("button", { type: "button", disabled: pageNo === 0, onclick: () => { pageNo -= 1; loadRecent(); } }, "Newer entries"),
          ` Page ${pageNo + 1} `,
          h("button", { type: "button", id: "audit-older", disabled: !page.next_before_seq, onclick: () => { pageNo += 1; loadRecent(); } }, "Older entries"),
        ),
      );
    } catch (err) {
      fill(recent, apiError(err, "Entries could not be loaded"));
    }
  }

  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    cursors = [null];
    pageNo = 0;
    loadRecent();
  });

  again.addEventListener("click", verify);
  await verify();
  return null;
}
