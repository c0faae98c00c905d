// The audit chain for auditors: the result of verifying every link now, and the latest entries
// (references and reasons only; the chain holds no biometric data).

import * as api from "../api.js";
import { apiError, fill, h, message, shortId, table, time } from "../dom.js";

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
    h("section", { "aria-labelledby": "recent-h" }, h("h2", { id: "recent-h" }, "Latest entries"), recent),
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
      await loadRecent(chain.entries);
    } catch (err) {
      fill(result, apiError(err, "Verification could not run"));
    } finally {
      again.disabled = false;
    }
  }

  async function loadRecent(count) {
    try {
      const entries = await api.get(`/audit?from_seq=${Math.max(0, count - RECENT)}&limit=${RECENT}`);
      const rows = entries
        .reverse()
        .map((e) =>
          h(
            "tr",
            {},
            h("td", { class: "num" }, e.seq),
            h("td", {}, time(e.at)),
            h("td", {}, e.actor === "system" ? "system" : shortId(e.actor, me)),
            h("td", {}, e.action),
            h("td", {}, e.target),
            h("td", {}, e.reason),
          ),
        );
      fill(
        recent,
        rows.length
          ? table("Latest entries, newest first", ["#", "When", "Who", "Action", "Target", "Reason"], rows, { class: "data", id: "audit-entries" })
          : message("info", "The chain is empty."),
      );
    } catch (err) {
      fill(recent, apiError(err, "Entries could not be loaded"));
    }
  }

  again.addEventListener("click", verify);
  await verify();
  return null;
}
