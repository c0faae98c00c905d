// Post-event footage search (investigators): start a face search (probe photo) or a plate search
// (plate text) of recorded footage under an approved post-event authorisation, watch its
// progress, cancel it, and list its appearances (hits on one camera close in time, with the best
// hit and one clip spanning the visit); the per-frame hits on request. The probe photo goes to
// the API once and is never stored; the API audits the start, the cancel and every view.

import * as api from "../api.js";
import { apiError, fill, h, message, rate, score, table, time } from "../dom.js";

const POLL_MS = 1000;
const FACE_HEADERS = ["Camera", "From", "To", "Frames", "Best score", "False-match rate (95 % bound)", "Clip"];
const PLATE_HEADERS = ["Camera", "From", "To", "Frames", "Best read", "Confidence", "Clip"];
const HIT_HEADERS = ["Camera", "Time", "Score", "Read / false-match bound", "Clip"];

function field(id, label, input) {
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

function clip(url) {
  return h("a", { href: `${url}&reason=footage+search+hit` }, "Clip");
}

function bound(hit) {
  return hit.false_match_rate_upper == null ? "not calibrated" : rate(hit.false_match_rate_upper);
}

function appearanceRow(kind, a) {
  const best = a.best;
  const cells =
    kind === "plate"
      ? [h("td", {}, best.text || ""), h("td", {}, score(best.score))]
      : [h("td", {}, score(best.score)), h("td", {}, bound(best))];
  return h(
    "tr",
    { dataset: { camera: a.camera_id, first: a.first_at, hits: String(a.hits) } },
    h("td", {}, a.camera_id),
    h("td", {}, time(a.first_at)),
    h("td", {}, time(a.last_at)),
    h("td", {}, String(a.hits)),
    ...cells,
    h("td", {}, clip(a.clip_url)),
  );
}

function hitRow(hit) {
  return h(
    "tr",
    { dataset: { resultId: hit.id } },
    h("td", {}, hit.camera_id),
    h("td", {}, time(hit.at)),
    h("td", {}, score(hit.score)),
    h("td", {}, hit.text == null ? bound(hit) : hit.text),
    h("td", {}, clip(hit.clip_url)),
  );
}

/** The appearances table of a job's results, and a button that lists the per-frame hits. */
export function appearancesTable(kind, answer, tableId = "fs-table") {
  const rows = answer.appearances.map((a) => appearanceRow(kind, a));
  const what = kind === "plate" ? "the plate" : "the probe";
  return rows.length
    ? table(`${rows.length} appearance(s) of ${what}`, kind === "plate" ? PLATE_HEADERS : FACE_HEADERS, rows, { id: tableId })
    : message("info", `No frame matched ${what}.`);
}

async function showResults(job, reason, results) {
  const q = `reason=${encodeURIComponent(reason)}`;
  const answer = await api.get(`/investigations/jobs/${job.id}/results?${q}`);
  const frames = h("div", { id: "fs-frames" });
  const more = h("button", { type: "button", id: "fs-show-hits" }, "Show frames");
  more.addEventListener("click", async () => {
    more.disabled = true;
    const all = await api.get(`/investigations/jobs/${job.id}/results?${q}&hits=true&limit=500`);
    fill(frames, table(`${all.hits.length} matching frames`, HIT_HEADERS, all.hits.map(hitRow), { id: "fs-hits" }));
  });
  fill(results, appearancesTable(job.kind, answer), answer.appearances.length ? more : "", frames);
}

async function watch(job, reason, status, results, cancel) {
  for (;;) {
    fill(status, message("info", `Job ${job.id.slice(0, 8)}: ${job.state}, ${job.segments_done} of ${job.segments_total} segments`));
    status.dataset.state = job.state;
    if (job.state !== "running") break;
    await new Promise((ok) => setTimeout(ok, POLL_MS));
    job = await api.get(`/investigations/jobs/${job.id}`);
  }
  cancel.disabled = true;
  await showResults(job, reason, results);
}

function radio(id, value, label, checked) {
  const input = h("input", { id, type: "radio", name: "fs-mode", value });
  input.checked = checked;
  return h("label", { for: id }, input, ` ${label}`);
}

export async function footageView(root) {
  const faceMode = radio("fs-mode-face", "face", "Face (probe photo)", true);
  const plateMode = radio("fs-mode-plate", "plate", "Plate", false);
  const probe = h("input", { id: "fs-probe", type: "file", accept: "image/jpeg,image/png" });
  const plate = h("input", { id: "fs-plate", name: "plate", maxlength: 32, placeholder: "AB12CDE" });
  const distance = h("select", { id: "fs-distance" }, ...[0, 1, 2].map((k) => h("option", { value: String(k) }, k ? `${k} character(s) off` : "exact (after folding 0/O, 8/B ...)")));
  const profile = h("input", { id: "fs-profile", maxlength: 32, placeholder: "configured region" });
  const caseId = h("input", { id: "fs-case", name: "case_id" });
  const auth = h("input", { id: "fs-auth", name: "authorisation_id" });
  const cameras = h("input", { id: "fs-cameras", name: "cameras", placeholder: "cam-1,cam-2" });
  const start = h("input", { id: "fs-start", type: "datetime-local", step: 1 });
  const end = h("input", { id: "fs-end", type: "datetime-local", step: 1 });
  const reason = h("input", { id: "fs-reason", name: "reason", minlength: 3, maxlength: 500 });
  const button = h("button", { type: "submit" }, "Start search");
  const cancel = h("button", { type: "button", id: "fs-cancel", disabled: true }, "Cancel search");
  const errors = h("div", { id: "fs-errors" });
  const status = h("div", { id: "fs-status" });
  const results = h("div", { id: "fs-results" });
  const faceFields = h("div", { id: "fs-face-fields" }, field("fs-probe", "Probe photo (not stored)", probe));
  const plateFields = h(
    "div",
    { id: "fs-plate-fields", hidden: true },
    field("fs-plate", "Plate", plate),
    field("fs-distance", "Match", distance),
    field("fs-profile", "Region profile", profile),
  );
  let current = null;
  const mode = () => (plateMode.querySelector("input").checked ? "plate" : "face");
  for (const r of [faceMode, plateMode]) {
    r.querySelector("input").addEventListener("change", () => {
      faceFields.hidden = mode() !== "face";
      plateFields.hidden = mode() !== "plate";
    });
  }
  const form = h(
    "form",
    { id: "fs-form" },
    h("fieldset", {}, h("legend", {}, "Search for"), faceMode, plateMode),
    faceFields,
    plateFields,
    field("fs-case", "Case id", caseId),
    field("fs-auth", "Post-event authorisation id", auth),
    field("fs-cameras", "Cameras (comma-separated)", cameras),
    field("fs-start", "From", start),
    field("fs-end", "To", end),
    field("fs-reason", "Reason (written to the audit log)", reason),
    button,
    cancel,
  );
  cancel.addEventListener("click", async () => {
    if (!current) return;
    try {
      await api.post(`/investigations/jobs/${current}/cancel?reason=${encodeURIComponent(reason.value || "cancelled")}`);
    } catch (err) {
      fill(errors, apiError(err, "Cancel refused"));
    }
  });
  const iso = (input) => (input.value ? new Date(input.value).toISOString() : "");
  const cameraList = () => cameras.value.split(",").map((c) => c.trim()).filter(Boolean);
  async function startJob() {
    if (mode() === "plate") {
      return api.post("/investigations/plate-jobs", {
        case_id: caseId.value.trim(),
        authorisation_id: auth.value.trim(),
        plate: plate.value.trim(),
        max_distance: Number(distance.value),
        profile: profile.value.trim() || null,
        cameras: cameraList(),
        start: iso(start),
        end: iso(end),
        reason: reason.value.trim(),
      });
    }
    const data = new FormData();
    if (probe.files.length) data.set("probe", probe.files[0]);
    data.set("case_id", caseId.value.trim());
    data.set("authorisation_id", auth.value.trim());
    data.set("cameras", cameras.value.trim());
    data.set("start", iso(start));
    data.set("end", iso(end));
    data.set("reason", reason.value.trim());
    return api.post("/investigations/jobs", data);
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    fill(results);
    button.disabled = true;
    try {
      const job = await startJob();
      current = job.id;
      cancel.disabled = false;
      await watch(job, reason.value.trim(), status, results, cancel);
    } catch (err) {
      fill(errors, apiError(err, "Search refused"));
    } finally {
      button.disabled = false;
    }
  });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Footage search"),
    h(
      "p",
      { class: "hint" },
      "Searches recorded footage for the person in a probe photo or for a plate, only under an approved " +
        "post-event authorisation and inside its cameras and time window. Every hit is a lead to check against " +
        "the clip, not an identification; faces and plates that do not match are never kept.",
    ),
    form,
    errors,
    status,
    results,
  );
}
