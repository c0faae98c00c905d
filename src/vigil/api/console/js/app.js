// The console shell: session, navigation by URL fragment, and the live stream.
//
// Routes: #/login, #/alerts, #/alerts/<id>, #/cameras, #/deployments, #/plates, #/cases,
// #/cases/<id>, #/audit, #/playback/<camera>[/<time>], #/live, #/live/<camera>, #/crowd,
// #/watchlists, #/watchlists/<id>, #/oversight, #/map, #/appearance, #/footage. Each
// view is a function `(root, ctx, params)` that fills `root` (a fresh element, so a slow view
// that finishes after the user moved on writes into a detached node, never over the new page)
// and may return a clean-up function (unsubscribe, stop timers, release image URLs).

import * as api from "./api.js";
import { fill, h, message } from "./dom.js";
import { Live } from "./live.js";
import { NAV, ROLE_NAMES, can, home } from "./roles.js";
import { alertDetailView, alertsView } from "./views/alerts.js";
import { appearanceView } from "./views/appearance.js";
import { auditView } from "./views/audit.js";
import { camerasView } from "./views/cameras.js";
import { caseDetailView, casesView } from "./views/cases.js";
import { deploymentsView } from "./views/deployments.js";
import { footageView } from "./views/footage.js";
import { loginView } from "./views/login.js";
import { mapView } from "./views/map.js";
import { platesView } from "./views/plates.js";
import { playbackView } from "./views/playback.js";
import { crowdView } from "./views/crowd.js";
import { liveCameraView, liveView } from "./views/live.js";
import { oversightView } from "./views/oversight.js";
import { watchlistDetailView, watchlistsView } from "./views/watchlists.js";

const VIEWS = {
  alerts: alertsView,
  alert: alertDetailView,
  cameras: camerasView,
  map: mapView,
  deployments: deploymentsView,
  plates: platesView,
  appearance: appearanceView,
  footage: footageView,
  audit: auditView,
  playback: playbackView,
  cases: casesView,
  case: caseDetailView,
  live: liveView,
  "live-camera": liveCameraView,
  crowd: crowdView,
  watchlists: watchlistsView,
  watchlist: watchlistDetailView,
  oversight: oversightView,
};

// Pages with a record in the path (#/live/<camera>, #/watchlists/<id>): the page's name and
// the nav entry it belongs to.
const DETAIL_ROUTES = { live: "live-camera", watchlists: "watchlist" };
const NAV_OF = { "live-camera": "live", watchlist: "watchlists", case: "cases" };

const state = { user: null, live: null, cleanup: null, notice: null };
const main = document.getElementById("main");

function parse(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "alerts" && parts[1]) return { name: "alert", params: { id: parts[1] } };
  if (parts[0] === "playback") return { name: "playback", params: { camera: parts[1], at: parts[2] } };
  if (parts[0] === "cases" && parts[1]) return { name: "case", params: { id: parts[1] } };
  if (DETAIL_ROUTES[parts[0]] && parts[1]) return { name: DETAIL_ROUTES[parts[0]], params: { id: parts[1] } };
  return { name: parts[0] || "", params: {} };
}

export function navigate(route) {
  const target = `#/${route}`;
  if (location.hash === target) render();
  else location.hash = target;
}

function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  // a fresh node after a tick, so screen readers announce a repeat of the same words too
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

function setLiveState(text) {
  document.getElementById("live-state").textContent = `Live updates: ${text}`;
}

function renderNav(current) {
  const links = NAV.filter((item) => can(state.user, item.capability)).map((item) => {
    const active =
      current === item.route || (current === "alert" && item.route === "alerts") || NAV_OF[current] === item.route;
    return h(
      "li",
      {},
      h("a", { href: `#/${item.route}`, "aria-current": active ? "page" : false }, item.label),
    );
  });
  fill(document.getElementById("nav-links"), links);
}

function showChrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
  if (signedIn) {
    const roles = state.user.roles.map((r) => ROLE_NAMES[r] ?? r).join(", ");
    fill(
      document.getElementById("who"),
      "Signed in as ",
      h("strong", {}, state.user.display_name || state.user.username),
      ` (${roles})`,
    );
  }
}

async function render() {
  if (state.cleanup) {
    state.cleanup();
    state.cleanup = null;
  }
  const route = parse(location.hash);
  const root = h("div", { class: "view" });
  main.replaceChildren(root);
  if (!state.user) {
    showChrome(false);
    const notice = state.notice;
    state.notice = null;
    loginView(root, { onSignedIn: signedIn, notice });
    return;
  }
  if (route.name === "login" || !route.name) {
    navigate(home(state.user));
    return;
  }
  renderNav(route.name);
  const view = VIEWS[route.name];
  const ctx = { user: state.user, live: state.live, announce, navigate, can: (c) => can(state.user, c) };
  try {
    if (!view) {
      fill(root, h("h1", { tabindex: "-1" }, "Not found"), message("error", "There is no such page."));
    } else {
      const cleanup = await view(root, ctx, route.params);
      if (root.isConnected) state.cleanup = cleanup ?? null;
      else cleanup?.();
    }
  } catch (err) {
    console.error(err);
    if (root.isConnected) root.append(message("error", `This page failed: ${err.message}`));
  }
  if (root.isConnected) root.querySelector("h1")?.focus({ preventScroll: false });
}

function signedIn(user) {
  state.user = user;
  state.live?.close();
  state.live = new Live(setLiveState, liveEnded);
  showChrome(true);
  const route = parse(location.hash);
  if (!route.name || route.name === "login") navigate(home(user));
  else render();
}

/** The server closed the live stream because this session's access ended or changed. */
function liveEnded(code, reason) {
  const why = reason ? ` (${reason})` : "";
  signedOut(
    code === 4401
      ? `You have been signed out${why}. Please sign in again.`
      : `You have been signed out: your access changed${why}. Please sign in again.`,
  );
}

function signedOut(notice) {
  if (!state.user && !notice) return;
  state.user = null;
  state.notice = notice ?? null;
  state.live?.close();
  state.live = null;
  api.forgetSession();
  if (location.hash !== "#/login") location.hash = "#/login";
  else render();
}

async function start() {
  api.setUnauthenticatedHandler(() => {
    if (state.user) signedOut("Your session has ended. Please sign in again.");
  });
  document.getElementById("logout").addEventListener("click", async () => {
    let outcome;
    try {
      outcome = await api.logout();
    } catch (err) {
      // The server did not end the session: saying "signed out" would be untrue (the cookie
      // would still open every page and the live stream), so the user stays and is told.
      const why = err.fullMessage ?? err.message;
      main.prepend(message("error", `Sign-out failed: ${why}. You are still signed in; try again.`));
      announce("Sign-out failed. You are still signed in.");
      return;
    }
    signedOut(
      outcome === "signed_out"
        ? "You are signed out."
        : "Your session had already ended on the server. You are signed out.",
    );
  });
  window.addEventListener("hashchange", render);
  if (api.csrfToken()) {
    try {
      signedIn(await api.get("/auth/me"));
      return;
    } catch {
      api.forgetSession();
    }
  }
  render();
}

start();
