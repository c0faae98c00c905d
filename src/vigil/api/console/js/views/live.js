// The live wall: a tile per camera the user may see, each an MJPEG stream with Vigil's overlays
// drawn by the server (boxes with track ids, zones, lines, plates, plain face boxes); state,
// analysed rate and drops under each tile. The page's tiles share one connection (the wall
// stream); the large view is one MJPEG <img>. A tile opens the large view of one camera with its
// recent events. Leaving the page stops every stream (the server then audits the viewing's end).

import * as api from "../api.js";
import { apiError, badge, fill, h, message, time, words } from "../dom.js";

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

const CRLF2 = [13, 10, 13, 10];

function indexOf(buf, pattern, from = 0) {
  outer: for (let i = from; i <= buf.length - pattern.length; i++) {
    for (let k = 0; k < pattern.length; k++) if (buf[i + k] !== pattern[k]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Read the wall stream (`/video/wall?cameras=a,b`): one connection for every tile of the page
 * (a browser opens at most six HTTP/1.1 connections to a server, so one <img> stream per tile
 * would stall a wall of nine). Each part is a JPEG with an X-Camera-Id header; `onFrame(id,
 * blob)` gets it. Ends when `signal` aborts or the server closes the stream (`onEnd(why, status)`;
 * `status` is the HTTP status when the stream was refused).
 */
async function readWall(ids, signal, onFrame, onEnd) {
  let res;
  try {
    res = await fetch(`/api/v1/video/wall?cameras=${ids.map(encodeURIComponent).join(",")}`, { credentials: "same-origin", signal, cache: "no-store" });
  } catch {
    onEnd(signal.aborted ? null : "the server cannot be reached");
    return;
  }
  if (!res.ok) {
    let text = `the server answered ${res.status}`;
    try {
      text = (await res.json()).error.message;
    } catch {
      // not the API's envelope
    }
    onEnd(text, res.status);
    return;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const joined = new Uint8Array(buf.length + value.length);
      joined.set(buf);
      joined.set(value, buf.length);
      buf = joined;
      for (;;) {
        const headEnd = indexOf(buf, CRLF2);
        if (headEnd < 0) break;
        const head = decoder.decode(buf.subarray(0, headEnd));
        const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? NaN);
        const camera = /X-Camera-Id: ([A-Za-z0-9_-]+)/i.exec(head)?.[1];
        const start = headEnd + 4;
        if (!Number.isFinite(length) || buf.length < start + length + 2) break;
        if (camera) onFrame(camera, new Blob([buf.slice(start, start + length)], { type: "image/jpeg" }));
        buf = buf.slice(start + length + 2);
      }
    }
  } catch {
    // aborted (the page was left) or the connection dropped
  }
  onEnd(signal.aborted ? null : "the stream ended");
}

export async function liveView(root, ctx) {
  const area = h("div", { id: "live-area" });
  const wallStatus = h("div", { id: "wall-status" });
  const pager = h("nav", { class: "pager", "aria-label": "Camera pages" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Live"),
    h("p", { class: "muted" }, "Boxes and track numbers are drawn from Vigil's own analysis; faces are plain boxes, never named. Watching a camera is recorded in the audit log."),
    wallStatus,
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
  let controller = null;
  const urls = new Map(); // camera id -> object URL shown now
  const statCells = new Map();

  function release() {
    controller?.abort();
    controller = null;
    for (const url of urls.values()) URL.revokeObjectURL(url);
    urls.clear();
  }

  /** (Re)open the page's one wall stream; the server ends it after `stream_s`, so reopen. */
  function open() {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    const byId = new Map(imgs.map((img) => [img.dataset.cameraId, img]));
    readWall([...byId.keys()], mine.signal, (id, blob) => {
      const img = byId.get(id);
      if (!img || controller !== mine) return;
      if (wallStatus.firstChild) fill(wallStatus);
      const url = URL.createObjectURL(blob);
      img.src = url;
      const old = urls.get(id);
      urls.set(id, url);
      if (old) URL.revokeObjectURL(old);
    }, (why, status) => {
      if (why && controller === mine && [401, 403, 404].includes(status)) {
        // access is gone (signed out, role or camera taken away): say so, do not retry
        fill(wallStatus, message("error", `Live video ended: ${why}`));
      } else if (why && controller === mine) {
        fill(wallStatus, message("error", `Live video stopped: ${why}. Reopening in a few seconds…`));
        setTimeout(() => controller === mine && open(), 3000);
      }
    });
  }

  function show() {
    release();
    imgs = [];
    statCells.clear();
    const slice = cams.slice(page * PAGE, page * PAGE + PAGE);
    const tiles = slice.map((cam) => {
      const img = h("img", { alt: `Live view of ${cam.name}`, class: "tile-img", width: 640, height: 480, dataset: { cameraId: cam.camera_id } });
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
    open();
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
  const reopen = setInterval(open, Math.max(10, cams[0].stream_s - 5) * 1000);
  return () => {
    clearInterval(timer);
    clearInterval(reopen);
    release();
  };
}

function eventItems(alerts) {
  return alerts.map((a) =>
    h(
      "li",
      { dataset: { alertId: a.id } },
      h("p", { class: "event-head" }, h("strong", {}, `${words(a.kind)} alert`), " · ", time(a.raised_at), " ", badge(a.status)),
      h("p", { class: "event-detail" }, a.detail || "—", " ", h("a", { href: `#/alerts/${encodeURIComponent(a.id)}` }, "Open")),
    ),
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
          ? [h("p", { class: "hint" }, "The ten latest alerts of this camera, newest first."), h("ul", { class: "events", id: "live-events-list" }, eventItems(page.items))]
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
