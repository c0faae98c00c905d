// The crowd dashboard: people over time on one camera (whole view or a zone) from the stored
// crowd series, over the last hour, day or week; the overcrowding threshold and the crowd
// alerts on the chart; line crossings per direction over time (stored per minute) and live; the heatmap of where people stood, over a
// still of the scene for the roles that may see the camera's picture.

import * as api from "../api.js";
import { countChart, timeChart } from "../charts.js";
import { apiError, badge, fill, h, message, table, time } from "../dom.js";

const WINDOWS = [
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
];

export async function crowdView(root, ctx) {
  let cameras;
  const area = h("div", { id: "crowd-area" });
  const form = h("form", { class: "row-form crowd-form", id: "crowd-form" });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Crowds"),
    h("p", { class: "muted" }, "Counts are estimates from person boxes, sampled and stored by each camera; they say how many, never who."),
    form,
    area,
  );
  try {
    cameras = await api.get("/cameras");
  } catch (err) {
    fill(area, apiError(err, "Cameras could not be loaded"));
    return null;
  }
  if (!cameras.length) {
    fill(area, message("info", "There is no camera you may see."));
    return null;
  }
  const camSel = h("select", { id: "crowd-camera" }, cameras.map((c) => h("option", { value: c.id }, c.name || c.id)));
  const zoneSel = h("select", { id: "crowd-zone" }, h("option", { value: "" }, "Whole view"));
  const win = h(
    "fieldset",
    { class: "inline" },
    h("legend", {}, "Period"),
    WINDOWS.map(([value, label], k) =>
      h("label", { class: "choice-inline" }, h("input", { type: "radio", name: "window", value, checked: k === 0 }), ` ${label}`),
    ),
  );
  fill(
    form,
    h("label", { for: "crowd-camera" }, "Camera"), camSel,
    h("label", { for: "crowd-zone" }, "Zone"), zoneSel,
    win,
  );
  let heatUrl = null;

  async function load() {
    const cam = camSel.value;
    const zone = zoneSel.value;
    const windowValue = form.querySelector("input[name=window]:checked").value;
    const q = new URLSearchParams({ window: windowValue });
    if (zone) q.set("zone", zone);
    fill(area, h("p", {}, "Loading…"));
    let series;
    try {
      series = await api.get(`/cameras/${encodeURIComponent(cam)}/crowd/series?${q}`);
    } catch (err) {
      fill(area, apiError(err, "The crowd series could not be loaded"));
      return;
    }
    const known = new Set([...zoneSel.options].map((o) => o.value));
    for (const z of series.zones) if (!known.has(z)) zoneSel.append(h("option", { value: z }, `Zone ${z}`));
    const label = WINDOWS.find(([v]) => v === windowValue)[1].toLowerCase();
    const camName = camSel.selectedOptions[0]?.textContent ?? cam;
    const chart = timeChart(`People on ${camName}${zone ? `, zone ${zone}` : ""}, ${label} (mean per ${series.bucket_s / 60} min; the lighter line is the maximum)`, {
      points: series.points,
      since: series.since,
      until: series.until,
      threshold: series.overcrowd,
      marks: series.alerts.map((a) => ({ at: a.raised_at, label: `crowd alert: ${a.detail}` })),
    });
    chart.id = "crowd-chart";
    const crossings = Object.entries(series.line_crossings).sort();
    let stored = null;
    try {
      stored = await api.get(`/cameras/${encodeURIComponent(cam)}/crossings/series?${new URLSearchParams({ window: windowValue })}`);
    } catch (err) {
      stored = err;
    }
    let crossChart;
    if (stored instanceof Error) {
      crossChart = apiError(stored, "The stored line crossings could not be loaded");
    } else if (!stored.series.length) {
      crossChart = message("info", stored.lines.length ? "No line crossing stored in this period." : "No counting line on this camera.");
    } else {
      crossChart = countChart(`Line crossings on ${camName}, ${label} (per ${stored.bucket_s / 60} min)`, {
        series: stored.series.map((sr) => ({ label: `${sr.line} ${sr.direction}`, kind: sr.direction, points: sr.points })),
        since: stored.since,
        until: stored.until,
        bucketS: stored.bucket_s,
      });
      crossChart.id = "crossings-chart";
    }
    const heat = h("figure", { class: "heat", id: "crowd-heat" }, h("figcaption", {}, "Where people stood recently (warmer is more often)"));
    fill(
      area,
      series.points.length ? chart : message("info", "No crowd sample stored in this period."),
      series.truncated ? message("info", "Only the newest 20,000 samples are shown.") : null,
      h("p", { class: "hint", id: "crowd-summary" }, `${series.points.reduce((n, p) => n + p.samples, 0).toLocaleString()} stored samples in ${series.points.length} intervals; overcrowding threshold ${series.overcrowd}.`),
      h("div", { class: "two-col" },
        h("section", {},
          h("h2", {}, "Line crossings over time (stored)"),
          crossChart,
          h("h2", {}, "Line crossings (live, since the camera started)"),
          crossings.length
            ? table("Crossings per line and direction", ["Line", "Direction", "People"], crossings.map(([k, n]) => {
                const [line, dir] = k.split(":");
                return h("tr", {}, h("td", {}, line), h("td", {}, dir), h("td", { class: "num" }, n));
              }), { class: "data", id: "crowd-crossings" })
            : message("info", "No counting line on this camera, or no crossing yet."),
          h("h2", {}, "Crowd alerts in this period"),
          series.alerts.length
            ? table("Crowd alerts", ["When", "Status", "Detail"], series.alerts.map((a) => h("tr", {}, h("td", {}, time(a.raised_at)), h("td", {}, badge(a.status)), h("td", {}, a.detail))), { class: "data" })
            : message("info", "No crowd alert in this period."),
        ),
        h("section", {}, h("h2", {}, "Heatmap"), heat),
      ),
    );
    await loadHeat(cam, heat);
  }

  async function loadHeat(cam, heat) {
    if (heatUrl) URL.revokeObjectURL(heatUrl);
    heatUrl = null;
    try {
      const res = await api.call("GET", `/cameras/${encodeURIComponent(cam)}/heatmap`, { raw: true });
      heatUrl = URL.createObjectURL(await res.blob());
    } catch (err) {
      heat.append(apiError(err, "No heatmap"));
      return;
    }
    const layers = h("div", { class: "heat-layers" });
    if (ctx.can("video:view")) {
      layers.append(h("img", { src: `/api/v1/video/cameras/${encodeURIComponent(cam)}/still?overlays=false&v=${Date.now()}`, alt: "A still of the scene", class: "heat-still", id: "heat-still" }));
    }
    layers.append(h("img", { src: heatUrl, alt: "Heatmap of where people stood", class: ctx.can("video:view") ? "heat-over" : "heat-alone", id: "heat-img" }));
    heat.append(layers);
  }

  form.addEventListener("change", load);
  await load();
  return () => {
    if (heatUrl) URL.revokeObjectURL(heatUrl);
  };
}
