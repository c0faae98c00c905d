// The map: camera positions drawn offline as SVG (nothing is fetched from the internet), each
// camera's state and people count now, a marker where alerts are open, and - for investigators -
// a vehicle's trajectory from one of its plate reads, drawn as a path whose implausible hops
// (faster than the configured speed limit) are dashed and marked, with a timeline beside it.
//
// Positions come from the cameras' config: lat/lon (drawn equirectangular, fine at city scale)
// or site-plan x/y metres. When cameras use both kinds, the kind most of them use is drawn and
// the others are listed as "not on this map"; so is a camera without a position.

import * as api from "../api.js";
import { apiError, badge, fill, h, message, rate, table, time } from "../dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 420;
const PAD = 40;
const REFRESH_MS = 10_000;
const OPEN = new Set(["pending", "one_confirmed", "actionable"]);

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Each placed camera's screen point, for the frame most cameras use. */
export function layout(cameras) {
  const geo = cameras.filter((c) => c.lat !== null && c.lon !== null);
  const plan = cameras.filter((c) => (c.lat === null || c.lon === null) && c.x !== null && c.y !== null);
  const useGeo = geo.length >= plan.length;
  const placed = useGeo ? geo : plan;
  // x grows east, y grows south on screen; latitude grows north, so it is negated
  const pts = placed.map((c) => (useGeo ? [c.lon * Math.cos((c.lat * Math.PI) / 180), -c.lat] : [c.x, c.y]));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0) || 1;
  const scale = Math.min(W - 2 * PAD, H - 2 * PAD) / span;
  const at = new Map();
  placed.forEach((c, i) => {
    at.set(c.id, [PAD + (pts[i][0] - x0) * scale, PAD + (pts[i][1] - y0) * scale]);
  });
  return { at, frame: useGeo ? "geo" : "plan", unplaced: cameras.filter((c) => !at.has(c.id)) };
}

export async function mapView(root, ctx) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, id: "map-svg", role: "img" });
  const layers = { cams: s("g", { id: "map-cameras" }), path: s("g", { id: "map-path" }) };
  svg.append(s("title", {}, "Camera map"), s("rect", { x: 0, y: 0, width: W, height: H, class: "map-ground" }), layers.path, layers.cams);
  const side = h("div", { id: "map-timeline", class: "map-side" });
  const notes = h("div", { id: "map-notes" });
  const form = h("form", { class: "row-form", id: "trajectory-form" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Map"),
    h("p", { class: "muted" }, "Camera positions from the configuration, drawn here without any map service. Counts say how many people, never who."),
    ctx.can("plates:search") ? form : null,
    h("div", { class: "map-wrap" }, h("figure", { class: "map" }, svg), side),
    notes,
  );
  let cameras;
  try {
    cameras = await api.get("/cameras");
  } catch (err) {
    fill(notes, apiError(err, "Cameras could not be loaded"));
    return null;
  }
  const place = layout(cameras);
  const dots = new Map();
  for (const c of cameras) {
    const p = place.at.get(c.id);
    if (!p) continue;
    const label = s("text", { x: p[0] + 10, y: p[1] - 10, class: "map-label" }, c.name || c.id);
    const count = s("text", { x: p[0] + 10, y: p[1] + 16, class: "map-count", "data-camera": c.id }, "");
    const dot = s("circle", { cx: p[0], cy: p[1], r: 8, class: "map-camera", "data-camera": c.id, "data-state": c.status });
    const alert = s("circle", { cx: p[0] - 10, cy: p[1] - 10, r: 5, class: "map-alert", "data-camera": c.id, visibility: "hidden" });
    dot.append(s("title", {}, `${c.name || c.id}: ${c.status}`));
    layers.cams.append(s("g", { class: "map-cam" }, dot, alert, label, count));
    dots.set(c.id, { dot, count, alert });
  }
  if (place.unplaced.length) {
    fill(notes, message("info", `Not on this map (no ${place.frame === "geo" ? "lat/lon" : "site-plan"} position): ${place.unplaced.map((c) => c.id).join(", ")}`));
  }

  async function refresh() {
    try {
      for (const st of await api.get("/cameras/status")) {
        const d = dots.get(st.camera_id);
        if (!d) continue;
        d.dot.setAttribute("data-state", st.state);
        d.count.textContent = st.people_now === null || st.people_now === undefined ? "" : `${st.people_now} people`;
      }
      if (ctx.can("alerts:read")) {
        const open = new Set((await api.get("/alerts?limit=200")).items.filter((a) => OPEN.has(a.status)).map((a) => a.camera_id));
        for (const [id, d] of dots) d.alert.setAttribute("visibility", open.has(id) ? "visible" : "hidden");
      }
    } catch (err) {
      if (err.status !== 401) notes.append(apiError(err, "Camera state could not be read"));
    }
  }

  /** "score 0.812, false match ≤ 1.3e-6 (about 1 in 760,000)": the bound, not the point. */
  function rated(x) {
    return `score ${x.score.toFixed(3)}, false match ≤ ${rate(x.false_match_rate_upper)}`;
  }

  function draw(t) {
    layers.path.replaceChildren();
    const pts = t.visits.map((v) => place.at.get(v.camera_id));
    t.hops.forEach((hop) => {
      const a = pts[hop.index];
      const b = pts[hop.index + 1];
      if (!a || !b) return;
      const line = s("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: `map-hop hop-${hop.check}`, "data-hop": hop.index });
      line.append(s("title", {}, `${hop.from_camera} → ${hop.to_camera}: ${hop.check}`));
      layers.path.append(line);
      if (hop.check === "implausible") {
        layers.path.append(s("text", { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 6, class: "map-flag", "data-hop": hop.index }, "⚠ too fast"));
      }
    });
    const rows = [];
    t.visits.forEach((v, i) => {
      // Faces: the visit's best score and its calibrated false-match rate (95% upper bound);
      // the anchor's own visit has no match to rate. Plates: the number of reads.
      const face = !t.plate;
      const reads = !face ? String(v.read_ids.length) : v.score === null ? "the anchor" : rated(v);
      rows.push([String(i + 1), v.camera_id, time(v.first), reads]);
      const hop = t.hops[i];
      if (hop) {
        const need = hop.min_seconds === null ? "no positions" : `needs ≥ ${Math.round(hop.min_seconds)} s`;
        const check = h("span", {}, badge(hop.check), face && hop.score !== null ? ` weakest ${rated(hop)}` : "");
        rows.push(["→", `${Math.round(hop.seconds)} s`, need, check]);
      }
    });
    fill(
      side,
      h("p", {}, `${t.plate ? `Plate ${t.plate}` : "Person"}: ${t.visits.length} visits, ${t.flagged} implausible hop(s) flagged${t.truncated ? " (truncated)" : ""}${t.min_score === null || t.plate ? "" : `; matches scored ≥ ${t.min_score.toFixed(3)}`}.`),
      table("Timeline", ["#", "Camera / gap", "First seen / travel", "Reads or best score"], rows, { class: "data", id: "trajectory-table" }),
    );
  }

  async function follow(path, payload, out) {
    fill(out, "");
    try {
      const t = await api.post(path, payload);
      draw(t);
      ctx.announce(`Trajectory: ${t.visits.length} visits, ${t.flagged} flagged.`);
    } catch (err) {
      fill(out, apiError(err, "No trajectory"));
    }
  }

  if (ctx.can("plates:search")) {
    const ID = "[A-Za-z0-9_\\-]{1,64}";
    const read = h("input", { id: "trajectory-read", required: true, pattern: ID, size: 20 });
    const windowS = h("input", { id: "trajectory-window", type: "number", min: "1", value: "3600" });
    const reason = h("input", { id: "trajectory-reason", required: true, minlength: "3", size: 30 });
    const out = h("div", { id: "trajectory-status", role: "status" });
    fill(
      form,
      h("label", { for: "trajectory-read" }, "Plate read id"), read,
      h("label", { for: "trajectory-window" }, "Window ± s"), windowS,
      h("label", { for: "trajectory-reason" }, "Reason"), reason,
      h("button", { type: "submit" }, "Follow vehicle"),
      out,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      follow("/trajectories/plates", { read_id: read.value.trim(), window_s: Number(windowS.value), reason: reason.value }, out);
    });
    // A person, from a sighting whose face template is stored, under a post-event authorisation.
    const sighting = h("input", { id: "face-sighting", required: true, pattern: ID, size: 16 });
    const auth = h("input", { id: "face-authorisation", required: true, pattern: ID, size: 16 });
    // Empty: the calibrated threshold of the face model in use (the server's default).
    const minScore = h("input", { id: "face-min-score", type: "number", min: "0.01", max: "1", step: "0.01", placeholder: "calibrated" });
    const faceReason = h("input", { id: "face-reason", required: true, minlength: "3", size: 24 });
    const faceOut = h("div", { id: "face-trajectory-status", role: "status" });
    const faceForm = h(
      "form",
      { class: "row-form", id: "face-trajectory-form" },
      h("label", { for: "face-sighting" }, "Sighting id"), sighting,
      h("label", { for: "face-authorisation" }, "Post-event authorisation"), auth,
      h("label", { for: "face-min-score" }, "Minimum score"), minScore,
      h("label", { for: "face-reason" }, "Why"), faceReason,
      h("button", { type: "submit" }, "Follow person"),
      faceOut,
    );
    form.after(faceForm);
    faceForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const payload = { sighting_id: sighting.value.trim(), authorisation_id: auth.value.trim(), reason: faceReason.value };
      if (minScore.value !== "") payload.min_score = Number(minScore.value);
      follow("/trajectories/faces", payload, faceOut);
    });
  }
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
