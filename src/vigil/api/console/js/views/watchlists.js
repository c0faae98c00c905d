// Watchlists for supervisors and investigators (authorising officers read them): list, create,
// expire; a list's subjects with each photo's provenance; enrolment with a check of every photo
// BEFORE anything is saved (the same face gate as enrolment, nothing stored), and the API's own
// words for every refusal. Photos are never shown back: the console shows facts about them.

import * as api from "../api.js";
import { apiError, fill, h, message, shortId, table, time, words } from "../dom.js";

const PAGE = 20;
const CATEGORIES = ["missing_or_vulnerable", "wanted_by_court", "serious_offence_suspect"];

/** A multipart POST (the JSON helper cannot send files); errors as the API's envelope. */
async function upload(path, form) {
  const headers = {};
  const token = api.csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method: "POST", body: form, credentials: "same-origin", headers });
  } catch {
    throw new api.ApiError(0, "network", "the server cannot be reached");
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const e = body?.error;
    throw e ? new api.ApiError(res.status, e.code, e.message, e.detail) : new api.ApiError(res.status, "http_error", `the server answered ${res.status}`);
  }
  return body;
}

function expired(wl) {
  return wl.expires_at && Date.parse(wl.expires_at) <= Date.now();
}

function field(id, label, input, hint) {
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null);
}

export async function watchlistsView(root, ctx) {
  const area = h("div", { id: "watchlists-area" });
  const status = h("div", { id: "watchlists-status" });
  const manage = ctx.can("watchlists:manage");
  const create = manage ? createForm() : null;
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Watchlists"),
    h("p", { class: "muted" }, "A watchlist names people sought under a stated reason until its expiry. Faces from Vigil's own cameras may never be enrolled."),
    status,
    area,
    create,
  );
  let lists = [];
  let page = 0;

  function createForm() {
    const soon = new Date(Date.now() + 7 * 86400e3).toISOString().slice(0, 16);
    const form = h(
      "form",
      { class: "plates-form panel", id: "watchlist-create" },
      h("h2", {}, "New watchlist"),
      field("wl-name", "Name", h("input", { id: "wl-name", required: true, maxlength: 200 })),
      field("wl-category", "Category", h("select", { id: "wl-category" }, CATEGORIES.map((c) => h("option", { value: c }, words(c))))),
      field("wl-reason", "Reason (recorded in the audit log)", h("input", { id: "wl-reason", required: true, maxlength: 2000 })),
      field("wl-expires", "Expires (local time)", h("input", { id: "wl-expires", type: "datetime-local", required: true, value: soon })),
      h("button", { type: "submit" }, "Create watchlist"),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const created = await api.post("/watchlists", {
          name: form.querySelector("#wl-name").value,
          category: form.querySelector("#wl-category").value,
          reason: form.querySelector("#wl-reason").value,
          expires_at: new Date(form.querySelector("#wl-expires").value).toISOString(),
        });
        fill(status, message("ok", "Watchlist created."));
        ctx.announce("Watchlist created.");
        form.reset();
        await load();
        ctx.navigate(`watchlists/${created.id}`);
      } catch (err) {
        fill(status, apiError(err, "The watchlist was not created"));
      }
    });
    return form;
  }

  function render() {
    const rows = lists.slice(page * PAGE, page * PAGE + PAGE).map((wl) =>
      h(
        "tr",
        { dataset: { watchlistId: wl.id } },
        h("th", { scope: "row" }, h("a", { href: `#/watchlists/${wl.id}` }, wl.name)),
        h("td", {}, words(wl.category)),
        h("td", {}, wl.reason),
        h("td", {}, time(wl.expires_at), expired(wl) ? h("span", { class: "error-text" }, " (expired)") : null),
        h("td", { class: "num" }, wl.version),
      ),
    );
    const pages = Math.max(1, Math.ceil(lists.length / PAGE));
    fill(
      area,
      rows.length
        ? table(`Watchlists (${lists.length})`, ["Name", "Category", "Reason", "Expires", "Version"], rows, { class: "data", id: "watchlists" })
        : message("info", "No watchlist yet."),
      pages > 1
        ? h(
            "nav",
            { class: "pager", "aria-label": "Watchlist pages" },
            h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; render(); } }, "Previous page"),
            ` Page ${page + 1} of ${pages} `,
            h("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page += 1; render(); } }, "Next page"),
          )
        : null,
    );
  }

  async function load() {
    try {
      lists = await api.get("/watchlists");
      render();
    } catch (err) {
      fill(area, apiError(err, "Watchlists could not be loaded"));
    }
  }
  await load();
  return null;
}

function checkItem(name, check) {
  const facts = check.faces
    ? `${check.faces} face${check.faces > 1 ? "s" : ""} found; face ${check.face_px} px (bar ${check.min_face_px}); pose ${check.pose}; sharpness ${check.sharpness}; quality ${check.quality} (bar ${check.min_quality})`
    : "no face found";
  return h(
    "li",
    { class: check.ok ? "check-ok" : "check-bad", dataset: { ok: String(check.ok) } },
    h("strong", {}, check.ok ? "✓ usable: " : "✕ refused: "),
    h("span", { class: "check-name" }, name),
    " — ",
    check.ok ? facts : h("span", { class: "check-reason" }, check.reason),
    check.ok || !check.faces ? null : h("span", { class: "hint" }, ` (${facts})`),
  );
}

export async function watchlistDetailView(root, ctx, params) {
  const id = params.id;
  const facts = h("dl", { class: "facts", id: "wl-facts" });
  const subjects = h("div", { id: "wl-subjects" });
  const status = h("div", { id: "wl-status" });
  fill(root, h("p", {}, h("a", { href: "#/watchlists" }, "← All watchlists")), h("h1", { tabindex: "-1" }, "Watchlist"), status, facts, subjects);
  let detail;
  let subjectPage = 0;

  async function load() {
    try {
      detail = await api.get(`/watchlists/${encodeURIComponent(id)}/details`);
    } catch (err) {
      fill(status, apiError(err, "The watchlist could not be loaded"));
      return;
    }
    const wl = detail.watchlist;
    const name = (uid) => detail.names[uid] ?? shortId(uid);
    root.querySelector("h1").textContent = `Watchlist: ${wl.name}`;
    fill(
      facts,
      h("dt", {}, "Category"), h("dd", {}, words(wl.category)),
      h("dt", {}, "Reason"), h("dd", {}, wl.reason),
      h("dt", {}, "Owner"), h("dd", {}, name(wl.owner_id)),
      h("dt", {}, "Created"), h("dd", {}, time(wl.created_at)),
      h("dt", {}, "Expires"), h("dd", { id: "wl-expiry" }, time(wl.expires_at), expired(wl) ? h("strong", { class: "error-text" }, " expired") : null),
      h("dt", {}, "Version"), h("dd", {}, `${wl.version} `, h("span", { class: "id", title: wl.version_hash }, wl.version_hash.slice(0, 12) || "—")),
      h("dt", {}, "Size limit"), h("dd", {}, wl.max_size ?? "—"),
    );
    const pages = Math.max(1, Math.ceil(detail.subjects.length / PAGE));
    subjectPage = Math.min(subjectPage, pages - 1);
    const shown = detail.subjects.slice(subjectPage * PAGE, subjectPage * PAGE + PAGE);
    const rows = shown.map((s) =>
      h(
        "tr",
        { dataset: { subjectId: s.id } },
        h("th", { scope: "row" }, s.label),
        h("td", {}, s.reason),
        h("td", {}, name(s.added_by), h("br"), time(s.created_at)),
        h("td", {}, time(s.expires_at)),
        h("td", {}, h("ul", { class: "plain" }, s.templates.map((t) => h("li", {}, `${t.provenance} · taken ${t.captured_at ? new Date(t.captured_at).toLocaleDateString() : "date unknown"} · quality ${t.quality}`)))),
      ),
    );
    fill(
      subjects,
      h("h2", {}, `Subjects (${detail.subjects.length})`),
      rows.length ? table("Subjects and where their photos came from", ["Label", "Reason", "Added by", "Expires", "Photos (provenance, date, quality)"], rows, { class: "data", id: "wl-subject-table" }) : message("info", "Nobody is enrolled on this list."),
      pages > 1
        ? h(
            "nav",
            { class: "pager", "aria-label": "Subject pages" },
            h("button", { type: "button", disabled: subjectPage === 0, onclick: () => { subjectPage -= 1; load(); } }, "Previous subjects"),
            ` Page ${subjectPage + 1} of ${pages} `,
            h("button", { type: "button", disabled: subjectPage >= pages - 1, onclick: () => { subjectPage += 1; load(); } }, "Next subjects"),
          )
        : null,
      ctx.can("watchlists:manage") && !expired(wl) ? [enrolForm(), expireForm()] : null,
    );
  }

  function expireForm() {
    const reason = h("input", { id: "expire-reason", required: true, maxlength: 2000 });
    const form = h("form", { class: "row-form panel", id: "wl-expire" }, h("h2", {}, "End this watchlist now"), h("label", { for: "expire-reason" }, "Reason"), reason, h("button", { type: "submit", class: "danger" }, "Expire watchlist"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api.post(`/watchlists/${encodeURIComponent(id)}/expire`, { reason: reason.value });
        fill(status, message("ok", "The watchlist has expired. Deployments pinned to it stop matching."));
        ctx.announce("Watchlist expired.");
        await load();
      } catch (err) {
        fill(status, apiError(err, "The watchlist was not expired"));
      }
    });
    return form;
  }

  function enrolForm() {
    const files = h("input", { id: "enrol-photos", type: "file", accept: "image/jpeg,image/png,image/webp,image/bmp", multiple: true, required: true, "aria-describedby": "enrol-photos-hint" });
    const checks = h("ul", { class: "checks", id: "enrol-checks", "aria-live": "polite" });
    const submit = h("button", { type: "submit", id: "enrol-submit", disabled: true }, "Enrol subject");
    const form = h(
      "form",
      { class: "plates-form panel", id: "enrol-form" },
      h("h2", {}, "Enrol a subject"),
      field("enrol-label", "Label", h("input", { id: "enrol-label", required: true, maxlength: 200 })),
      field("enrol-reason", "Reason (recorded in the audit log)", h("input", { id: "enrol-reason", required: true, maxlength: 2000 })),
      field("enrol-provenance", "Where the photos come from", h("input", { id: "enrol-provenance", required: true, maxlength: 500 }), "For example: family photo handed over for report MP-17. Never a camera frame."),
      field("enrol-captured", "Date the photos were taken (optional)", h("input", { id: "enrol-captured", type: "date" })),
      field("enrol-photos", "Photos", files, "Each photo is checked at once (face found, size, pose, sharpness); nothing is saved until you enrol."),
      checks,
      submit,
    );
    files.addEventListener("change", async () => {
      fill(checks);
      submit.disabled = true;
      let allOk = files.files.length > 0;
      for (const file of files.files) {
        const fd = new FormData();
        fd.append("photo", file);
        try {
          const check = await upload("/watchlists/check-photo", fd);
          allOk = allOk && check.ok;
          checks.append(checkItem(file.name, check));
        } catch (err) {
          allOk = false;
          checks.append(h("li", { class: "check-bad", dataset: { ok: "false" } }, h("strong", {}, "✕ refused: "), file.name, " — ", apiError(err)));
        }
      }
      submit.disabled = !allOk;
      ctx.announce(allOk ? "All photos are usable." : "A photo would be refused; see why under the photos.");
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const fd = new FormData();
      for (const file of files.files) fd.append("photos", file);
      fd.append("label", form.querySelector("#enrol-label").value);
      fd.append("reason", form.querySelector("#enrol-reason").value);
      fd.append("provenance", form.querySelector("#enrol-provenance").value);
      const taken = form.querySelector("#enrol-captured").value;
      if (taken) fd.append("captured_at", new Date(`${taken}T12:00:00Z`).toISOString());
      submit.disabled = true;
      try {
        await upload(`/watchlists/${encodeURIComponent(id)}/subjects`, fd);
        fill(status, message("ok", "Subject enrolled."));
        ctx.announce("Subject enrolled.");
        await load();
      } catch (err) {
        fill(status, apiError(err, "Enrolment refused"));
        submit.disabled = false;
      }
    });
    return form;
  }

  await load();
  return null;
}
