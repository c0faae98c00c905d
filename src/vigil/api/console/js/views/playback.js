// Playback of a camera's recorded footage, with the camera's events as a timeline.
//
// Route: #/playback/<camera>[/<ISO time>]. The clip is GET /cameras/<id>/clips, served to the
// <video> element directly (it seeks with range requests on the session cookie). Every view
// needs a reason and is audited by the API; privacy masks are burned in unless an investigator
// asks for an unmasked view for a case. The timeline lists the camera's alerts in the window
// around the clip; each one plays its own moment with one click.

import * as api from "../api.js";
import { apiError, fill, h, message, time } from "../dom.js";

const BEFORE_S = 10; // an event's clip starts this long before it
const AFTER_S = 20; // ... and ends this long after it
const TIMELINE_S = 3600; // events listed from an hour around the clip

function iso(date) {
  return new Date(date).toISOString();
}

function around(at) {
  const t = new Date(at).getTime();
  return { start: iso(t - BEFORE_S * 1000), end: iso(t + AFTER_S * 1000) };
}

export async function playbackView(root, ctx, { camera, at }) {
  const cameras = await api.get("/cameras");
  const select = h(
    "select",
    { id: "pb-camera", name: "camera" },
    ...cameras.map((c) => h("option", { value: c.id, selected: c.id === camera }, c.name || c.id)),
  );
  const window0 = around(at ?? Date.now() - AFTER_S * 1000);
  const start = h("input", { id: "pb-start", name: "start", value: window0.start, size: 28 });
  const end = h("input", { id: "pb-end", name: "end", value: window0.end, size: 28 });
  const reason = h("input", { id: "pb-reason", name: "reason", required: true, minlength: 3, size: 40 });
  const unmask = h("input", { id: "pb-unmask", name: "unmask", type: "checkbox" });
  const caseId = h("input", { id: "pb-case", name: "case_id", size: 20 });
  const investigator = ctx.user.roles.includes("investigator");
  const status = h("div", { id: "pb-status", role: "status" });
  const video = h("video", { id: "pb-video", controls: true, preload: "metadata", width: 768 });
  const events = h("ol", { id: "pb-events", class: "timeline" });
  const form = h(
    "form",
    { id: "pb-form", class: "stack" },
    h("label", { for: "pb-camera" }, "Camera "),
    select,
    h("label", { for: "pb-start" }, " From (UTC) "),
    start,
    h("label", { for: "pb-end" }, " to "),
    end,
    h("p", {}, h("label", { for: "pb-reason" }, "Reason for viewing (recorded) "), reason),
    investigator
      ? h(
          "p",
          {},
          unmask,
          h("label", { for: "pb-unmask" }, " without privacy masks, for case "),
          caseId,
        )
      : null,
    h("button", { type: "submit" }, "Play"),
  );
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Playback"),
    h(
      "p",
      { class: "muted" },
      "Recorded footage of one camera. Each view is written to the audit log with its reason; " +
        "privacy masks are blacked out unless an investigator unmasks for a case.",
    ),
    form,
    status,
    video,
    h("h2", {}, "Events on this camera"),
    events,
  );

  function clipUrl() {
    const q = new URLSearchParams({ start: start.value, end: end.value, reason: reason.value });
    if (unmask.checked) {
      q.set("unmask", "true");
      q.set("case_id", caseId.value);
    }
    return `/api/v1/cameras/${encodeURIComponent(select.value)}/clips?${q}`;
  }

  async function play() {
    fill(status);
    // The first byte through the API client: a refusal or an empty window shows the API's own
    // message (a <video> element would only say that it failed).
    try {
      await api.call("GET", clipUrl().replace(/^\/api\/v1/, ""), {
        headers: { Range: "bytes=0-0" },
        raw: true,
      });
    } catch (err) {
      fill(status, apiError(err, "No clip"));
      video.removeAttribute("src");
      return;
    }
    video.src = clipUrl();
    fill(status, message("info", `Playing ${select.value} from ${time(start.value)}.`));
    ctx.announce("Clip loaded.");
    await loadEvents();
  }

  async function loadEvents() {
    const mid = (new Date(start.value).getTime() + new Date(end.value).getTime()) / 2;
    const q = new URLSearchParams({
      camera_id: select.value,
      since: iso(mid - (TIMELINE_S / 2) * 1000),
      until: iso(mid + (TIMELINE_S / 2) * 1000),
      limit: "100",
    });
    let page;
    try {
      page = await api.get(`/alerts?${q}`);
    } catch (err) {
      fill(events, h("li", {}, apiError(err)));
      return;
    }
    const items = page.items ?? page;
    if (!items.length) {
      fill(events, h("li", { class: "muted" }, "No alerts in the hour around this clip."));
      return;
    }
    fill(
      events,
      ...items.map((a) =>
        h(
          "li",
          { dataset: { alertId: a.id } },
          h(
            "button",
            {
              type: "button",
              onclick: () => {
                const w = around(a.raised_at);
                start.value = w.start;
                end.value = w.end;
                if (reason.value.trim().length >= 3) play();
                else fill(status, message("error", "Give a reason for viewing first."));
              },
            },
            `▶ ${time(a.raised_at)}`,
          ),
          ` ${a.kind.replace(/_/g, " ")} (${a.status.replace(/_/g, " ")})`,
        ),
      ),
    );
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    play();
  });
  await loadEvents();
  return () => video.removeAttribute("src");
}
