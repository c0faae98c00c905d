// Cameras with their live health: state changes arrive over the WebSocket; the analysis totals
// are re-read every few seconds while the page is open. Pages of 20 rows (client-side: the API
// answers the whole list); rows on other pages keep receiving their updates.

import * as api from "../api.js";
import { apiError, badge, fill, h, pagedTable, time } from "../dom.js";

const REFRESH_MS = 5000;
const HEADERS = [
  "Camera",
  "Zone",
  "Analytics",
  "State",
  "Since",
  "Last error",
  "People now",
  "Person tracks",
  "Crowd (last sample)",
  "Frames analysed",
  "Dropped frames",
];

// A count, or a dash when the camera has no people stage (null) or has not sampled yet.
function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString();
}

export async function camerasView(root, ctx) {
  const area = h("div", { id: "cameras-area" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Cameras"),
    h(
      "p",
      { class: "muted" },
      "Online: frames arrive. Degraded: frames arrive with a problem (tampering, corrupt or " +
        "missing key frames). Offline: no frames. Camera addresses and credentials are never shown.",
    ),
    area,
  );
  const rows = new Map(); // camera id -> {state, since, error, frames, dropped} cells

  function row(cam) {
    const cells = {
      state: h("td", {}, badge(cam.status && cam.status !== "unknown" ? cam.status : "unknown")),
      since: h("td", {}, "—"),
      error: h("td", { class: "error-text" }, ""),
      people: h("td", { class: "num" }, "—"),
      tracks: h("td", { class: "num" }, "—"),
      crowd: h("td", { class: "num" }, "—"),
      frames: h("td", { class: "num" }, "—"),
      dropped: h("td", { class: "num" }, "—"),
    };
    rows.set(cam.id, cells);
    return h(
      "tr",
      { dataset: { cameraId: cam.id } },
      h("th", { scope: "row" }, cam.name || cam.id, cam.name && cam.name !== cam.id ? h("span", { class: "muted" }, ` (${cam.id})`) : null),
      h("td", {}, cam.zone ?? "—"),
      h("td", {}, cam.analytics.join(", ") || "—"),
      cells.state,
      cells.since,
      cells.error,
      cells.people,
      cells.tracks,
      cells.crowd,
      cells.frames,
      cells.dropped,
    );
  }

  function setState(cameraId, state, since, lastError) {
    const cells = rows.get(cameraId);
    if (!cells) return false;
    const changed = cells.state.dataset.state !== state;
    cells.state.dataset.state = state;
    fill(cells.state, badge(state));
    fill(cells.since, time(since));
    fill(cells.error, lastError ?? "");
    return changed;
  }

  async function refreshStatus() {
    try {
      for (const s of await api.get("/cameras/status")) {
        const tamper = s.tamper?.length ? `tamper signal: ${s.tamper.join(", ")}` : null;
        setState(s.camera_id, s.state, s.since, [tamper, s.last_error].filter(Boolean).join("; "));
        const cells = rows.get(s.camera_id);
        if (cells) {
          fill(cells.people, count(s.people_now));
          fill(cells.tracks, count(s.person_tracks_total));
          fill(cells.crowd, count(s.crowd_count));
          fill(cells.frames, s.frames_analysed.toLocaleString());
          fill(cells.dropped, s.dropped_frames.toLocaleString());
        }
      }
    } catch (err) {
      if (err.status === 401) return;
      area.prepend(apiError(err, "Camera status could not be read"));
    }
  }

  try {
    const cams = await api.get("/cameras");
    fill(
      area,
      cams.length
        ? pagedTable("Cameras and their health (updates live)", HEADERS, cams.map(row), { class: "data", id: "cameras" }, { label: "Camera pages" })
        : h("p", {}, "No cameras are configured."),
    );
  } catch (err) {
    fill(area, apiError(err, "Cameras could not be loaded"));
    return null;
  }
  await refreshStatus();
  const timer = setInterval(refreshStatus, REFRESH_MS);
  const stop = ctx.live.subscribe((event) => {
    if (event.type === "reconnected") refreshStatus();
    if (event.type === "crowd" && event.crowd && !event.crowd.zone) {
      const cells = rows.get(event.camera_id);
      if (cells) fill(cells.crowd, count(event.crowd.count));
      return;
    }
    if (event.type !== "camera_status" || !event.status) return;
    const changed = setState(event.camera_id, event.status.state, event.at, event.status.last_error);
    if (changed) ctx.announce(`Camera ${event.camera_id} is ${event.status.state}.`);
  });
  return () => {
    clearInterval(timer);
    stop();
  };
}
