// Appearance search: sightings by clothing colour, vehicle type and colour, cameras and time
// (investigators and supervisors). The API refuses any query naming a protected characteristic
// (422, audited); this page shows that refusal as it came and never offers such a field.

import * as api from "../api.js";
import { apiError, fill, h, message, table, time } from "../dom.js";

const COLOURS = ["", "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"];
const CLASSES = ["person", "car", "van", "truck", "bus", "motorcycle", "bicycle", "vehicle"];
const HEADERS = ["Class", "Camera", "Started", "Top", "Trousers", "Vehicle colour", "Direction", "Match", "Footage"];

function select(id, values) {
  return h("select", { id, name: id }, values.map((v) => h("option", { value: v }, v || "any")));
}

function field(id, label, input) {
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

function instant(input) {
  return input.value ? new Date(input.value).toISOString() : null;
}

function row(hit) {
  const clip = h("a", { href: hit.console_url, class: "play" }, "Play");
  return h(
    "tr",
    { dataset: { sightingId: hit.id } },
    h("td", {}, hit.object_class),
    h("td", {}, hit.camera_id),
    h("td", {}, time(hit.started_at)),
    h("td", {}, hit.upper_colour ?? "—"),
    h("td", {}, hit.lower_colour ?? "—"),
    h("td", {}, hit.body_colour ?? "—"),
    h("td", {}, hit.direction ?? "—"),
    h("td", {}, hit.colour_score == null ? "—" : `${Math.round(hit.colour_score * 100)} %`),
    h("td", {}, clip),
  );
}

export async function appearanceView(root) {
  const text = h("input", { id: "as-q", name: "q", maxlength: 200, placeholder: "person red top blue trousers" });
  const cls = select("as-class", CLASSES);
  const upper = select("as-upper", COLOURS);
  const lower = select("as-lower", COLOURS);
  const colour = select("as-colour", COLOURS);
  const cameras = h("input", { id: "as-cameras", name: "cameras", placeholder: "cam-1,cam-2" });
  const since = h("input", { id: "as-since", type: "datetime-local" });
  const until = h("input", { id: "as-until", type: "datetime-local" });
  const reason = h("input", { id: "as-reason", name: "reason", minlength: 3, maxlength: 500 });
  const button = h("button", { type: "submit" }, "Search");
  const errors = h("div", { id: "as-errors" });
  const results = h("div", { id: "as-results" });
  const form = h(
    "form",
    { id: "as-form" },
    field("as-q", "Free text (or use the fields below)", text),
    field("as-class", "Class", cls),
    field("as-upper", "Top colour (persons)", upper),
    field("as-lower", "Trousers colour (persons)", lower),
    field("as-colour", "Vehicle colour", colour),
    field("as-cameras", "Cameras (comma-separated; empty: all of yours)", cameras),
    field("as-since", "From", since),
    field("as-until", "To", until),
    field("as-reason", "Reason (written to the audit log)", reason),
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    const params = new URLSearchParams();
    if (text.value.trim()) params.set("q", text.value.trim());
    else {
      params.set("class", cls.value);
      for (const [k, el] of [["upper", upper], ["lower", lower], ["colour", colour]]) if (el.value) params.set(k, el.value);
    }
    if (cameras.value.trim()) params.set("cameras", cameras.value.trim());
    for (const [k, el] of [["since", since], ["until", until]]) if (el.value) params.set(k, instant(el));
    const headers = reason.value.trim() ? { "X-Vigil-Reason": reason.value.trim() } : {};
    button.disabled = true;
    try {
      const page = await api.get(`/sightings/search?${params}`, { headers });
      fill(
        results,
        page.items.length
          ? table(`${page.items.length} sightings, best match first`, HEADERS, page.items.map(row), { id: "as-table" })
          : message("info", "No sightings match."),
      );
    } catch (err) {
      fill(results);
      fill(errors, apiError(err, "Search refused"));
    } finally {
      button.disabled = false;
    }
  });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Appearance search"),
    h(
      "p",
      { class: "hint" },
      "Clothing and vehicle colours measured by hand-built colour rules, not identity: many people " +
        "share a colour, and light and cameras shift colours. Vigil never searches by race, ethnicity, " +
        "skin colour, religion, politics, sexual orientation, health, emotion, age or gender.",
    ),
    form,
    errors,
    results,
  );
}
