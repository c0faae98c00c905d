// Post-event footage search (investigators): start a face search of recorded footage under an
// approved post-event authorisation, watch its progress, cancel it, and list its hits with the
// calibrated false-match rate and a link to the clip. The probe photo goes to the API once and is
// never stored; the API audits the start, the cancel and every view of the results.

import * as api from "../api.js";
import { apiError, fill, h, message, rate, score, table, time } from "../dom.js";

const HEADERS = ["Camera", "Time", "Score", "False-match rate (95 % bound)", "Clip"];
const POLL_MS = 1000;

function field(id, label, input) {
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

function row(hit) {
  const bound = hit.false_match_rate_upper == null ? "not calibrated" : rate(hit.false_match_rate_upper);
  return h(
    "tr",
    { dataset: { resultId: hit.id } },
    h("td", {}, hit.camera_id),
    h("td", {}, time(hit.at)),
    h("td", {}, score(hit.score)),
    h("td", {}, bound),
    h("td", {}, h("a", { href: `${hit.clip_url}&reason=footage+search+hit` }, "Clip")),
  );
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
  const hits = await api.get(`/investigations/jobs/${job.id}/results?reason=${encodeURIComponent(reason)}`);
  fill(
    results,
    hits.length
      ? table(`${hits.length} frames matching the probe`, HEADERS, hits.map(row), { id: "fs-table" })
      : message("info", "No frame matched the probe."),
  );
}

export async function footageView(root) {
  const probe = h("input", { id: "fs-probe", type: "file", accept: "image/jpeg,image/png" });
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
  let current = null;
  const form = h(
    "form",
    { id: "fs-form" },
    field("fs-probe", "Probe photo (not stored)", probe),
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
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    fill(results);
    const data = new FormData();
    if (probe.files.length) data.set("probe", probe.files[0]);
    data.set("case_id", caseId.value.trim());
    data.set("authorisation_id", auth.value.trim());
    data.set("cameras", cameras.value.trim());
    data.set("start", start.value ? new Date(start.value).toISOString() : "");
    data.set("end", end.value ? new Date(end.value).toISOString() : "");
    data.set("reason", reason.value.trim());
    button.disabled = true;
    try {
      const job = await api.post("/investigations/jobs", data);
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
      "Searches recorded footage for the person in the probe photo, only under an approved post-event " +
        "authorisation and inside its cameras and time window. Every hit is a lead to check against the clip, " +
        "not an identification; faces that do not match are never kept.",
    ),
    form,
    errors,
    status,
    results,
  );
}
