// The live wall: a tile per camera the user may see, each an MJPEG stream with Vigil's overlays
// drawn by the server (boxes with track ids, zones, lines, plates, plain face boxes); state,
// analysed rate and drops under each tile. A tile opens the large view of one camera with its
// recent events. Leaving the page stops every stream (the server then audits the viewing's end).

import * as api from "../api.js";
import { apiError, badge, fill, h, message, table, time, words } from "../dom.js";

const PAGE = 9; // a 3x3 wall per page
const REFRESH_MS = 4000;

function streamUrl(id) {
  // a fresh query per opening, so the browser never reuses an ended stream from its cache
  return `/api/v1/video/cameras/${encodeURIComponent(id)}/mjpeg?v=${Date.now()}`;
}

function stats(cam) {
  return [
    badge(cam.state),
    h("span", { class: "tile-stat" }, `${cam.analysed_fps.toFixed(1)} fps analysed`),
    h("span", { class: "tile-stat" }, `${cam.dropped_frames.toLocaleString()} dropped`),
    cam.people_now === null || cam.people_now === undefined ? null : h("span", { class: "tile-stat" }, `${cam.people_now} people`),
  ];
}

/** Stop the streams of `imgs` (an <img> keeps its connection open until its src changes). */
function stop(imgs) {
  for (const img of imgs) img.removeAttribute("src");
}

export async function liveView(root, ctx) {
  const area = h("div", { id: "live-area" });
  const pager = h("nav", { class: "pager", "aria-label": "Camera pages" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Live"),
    h("p", { class: "muted" }, "Boxes and track numbers are drawn from Vigil's own analysis; faces are plain boxes, never named. Watching a camera is recorded in the audit log."),
    area,
    pager,
  );
  let cams;
  try {
    cams = await api.get("/video/cameras");
  } catch (err) {
    fill(area, apiError(err, "Cameras could not be loaded"));
    return null;
  }
  if (!cams.length) {
    fill(area, message("info", "No live camera is running that you may see."));
    return null;
  }
  let page = 0;
  let imgs = [];
  const statCells = new Map();

  function show() {
    stop(imgs);
    imgs = [];
    statCells.clear();
    const slice = cams.slice(page * PAGE, page * PAGE + PAGE);
    const tiles = slice.map((cam) => {
      const img = h("img", { src: streamUrl(cam.camera_id), alt: `Live view of ${cam.name}`, class: "tile-img", width: 640, height: 480, dataset: { cameraId: cam.camera_id } });
      imgs.push(img);
      const line = h("p", { class: "tile-stats" }, stats(cam));
      statCells.set(cam.camera_id, line);
      return h(
        "li",
        { class: "tile", dataset: { cameraId: cam.camera_id } },
        h(
          "a",
          { href: `#/live/${encodeURIComponent(cam.camera_id)}`, class: "tile-link", "aria-label": `Open the large view of ${cam.name}` },
          img,
        ),
        h("p", { class: "tile-name" }, cam.name, cam.zone ? h("span", { class: "muted" }, ` · ${cam.zone}`) : null),
        line,
      );
    });
    fill(area, h("ul", { class: "wall", id: "live-wall" }, tiles));
    const pages = Math.ceil(cams.length / PAGE);
    fill(
      pager,
      pages > 1
        ? [
            h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; show(); } }, "Previous cameras"),
            h("span", {}, ` Page ${page + 1} of ${pages} `),
            h("button", { type: "button", disabled: page >= pages - 1, onclick: () => { page += 1; show(); } }, "Next cameras"),
          ]
        : [],
    );
  }

  async function refresh() {
    try {
      cams = await api.get("/video/cameras");
      for (const cam of cams) {
        const cell = statCells.get(cam.camera_id);
        if (cell) fill(cell, stats(cam));
      }
    } catch {
      // the tiles keep showing; the next refresh retries
    }
  }

  show();
  const timer = setInterval(refresh, REFRESH_MS);
  // The server ends each stream after `stream_s` (a new one is re-authorised and audited):
  // reopen the tiles a little before, so the wall never freezes on a last frame.
  const reopen = setInterval(() => {
    for (const img of imgs) img.setAttribute("src", streamUrl(img.dataset.cameraId));
  }, Math.max(10, cams[0].stream_s - 5) * 1000);
  return () => {
    clearInterval(timer);
    clearInterval(reopen);
    stop(imgs);
  };
}

function eventRows(alerts) {
  return alerts.map((a) =>
    h("tr", {}, h("td", {}, time(a.raised_at)), h("td", {}, words(a.kind)), h("td", {}, badge(a.status)), h("td", {}, a.detail || "—")),
  );
}

export async function liveCameraView(root, ctx, params) {
  const id = params.id;
  const facts = h("dl", { class: "facts", id: "live-facts" });
  const events = h("div", { id: "live-events" });
  const img = h("img", { src: streamUrl(id), alt: `Live view of camera ${id}`, class: "large-img", id: "large-img", width: 1280, height: 960 });
  fill(
    root,
    h("p", {}, h("a", { href: "#/live" }, "← All cameras")),
    h("h1", { tabindex: "-1" }, `Live: ${id}`),
    h("div", { class: "large" }, h("div", { class: "large-video" }, img), h("div", { class: "large-side" }, h("h2", {}, "Now"), facts, h("h2", {}, "Recent events"), events)),
  );

  async function load() {
    try {
      const cams = await api.get("/video/cameras");
      const cam = cams.find((c) => c.camera_id === id);
      if (!cam) {
        fill(facts, message("error", "This camera is not live, or not one you may see."));
        return;
      }
      root.querySelector("h1").textContent = `Live: ${cam.name}`;
      img.alt = `Live view of ${cam.name}`;
      fill(
        facts,
        h("dt", {}, "State"), h("dd", {}, badge(cam.state)),
        h("dt", {}, "Analysed"), h("dd", {}, `${cam.analysed_fps.toFixed(1)} frames/s`),
        h("dt", {}, "Dropped frames"), h("dd", {}, cam.dropped_frames.toLocaleString()),
        h("dt", {}, "People now"), h("dd", {}, cam.people_now ?? "—"),
        h("dt", {}, "Latest frame"), h("dd", {}, time(cam.frame_at)),
      );
    } catch (err) {
      fill(facts, apiError(err, "Camera state could not be loaded"));
    }
    if (!ctx.can("alerts:read")) {
      fill(events, message("info", "Alerts are shown to operators, supervisors and investigators."));
      return;
    }
    try {
      const page = await api.get(`/alerts?camera_id=${encodeURIComponent(id)}&limit=10`);
      fill(
        events,
        page.items.length
          ? table("The ten latest alerts of this camera", ["When", "Kind", "Status", "Detail"], eventRows(page.items), { class: "data", id: "live-events-table" })
          : message("info", "No alert on this camera yet."),
      );
    } catch (err) {
      fill(events, apiError(err, "Events could not be loaded"));
    }
  }

  await load();
  const timer = setInterval(load, REFRESH_MS);
  let streamS = 600;
  try {
    streamS = (await api.get("/video/cameras")).find((c) => c.camera_id === id)?.stream_s ?? 600;
  } catch {
    // keep the default
  }
  const reopen = setInterval(() => img.setAttribute("src", streamUrl(id)), Math.max(10, streamS - 5) * 1000);
  const unsubscribe = ctx.live?.subscribe?.((ev) => {
    if (ev.type === "alert" && ev.alert?.camera_id === id) load();
  });
  return () => {
    clearInterval(timer);
    clearInterval(reopen);
    unsubscribe?.();
    img.removeAttribute("src");
  };
}
