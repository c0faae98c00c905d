// What each role may do, mirrored from the API's role matrix (tests/unit/test_api_access.py)
// only to decide which links and buttons to show. The API stays the authority: a hidden action
// that is reached anyway gets the API's 403, and the console shows it as it came.

const O = "operator";
const S = "supervisor";
const I = "investigator";
const A = "authorising_officer";
const U = "auditor";
const D = "admin";
const EVERYONE = [O, S, I, A, U, D];

export const CAPABILITIES = {
  "alerts:read": [O, S, I],
  "alerts:decide": [O, S],
  "alerts:images": [O, S, I],
  "alerts:outcome": [S, I],
  "cameras:read": EVERYONE,
  "deployments:read": EVERYONE,
  "deployments:decide": [A],
  "plates:hotlists": [S, I],
  "plates:search": [I],
  "sightings:search": [S, I],
  "footage:search": [I],
  "audit:read": [U, D],
  "recordings:play": [O, S, I],
  "cases:read": [S, I, U],
  "cases:work": [S, I],
  "video:view": [O, S, I],
  "crowd:read": EVERYONE,
  "watchlists:read": [S, I, A],
  "watchlists:manage": [S, I],
  "reports:read": [U, A],
};

export const ROLE_NAMES = {
  operator: "operator",
  supervisor: "supervisor",
  investigator: "investigator",
  authorising_officer: "authorising officer",
  auditor: "auditor",
  admin: "administrator",
};

/** Whether `user` holds a role that the API allows for `capability`. */
export function can(user, capability) {
  const allowed = CAPABILITIES[capability] ?? [];
  return Boolean(user) && user.roles.some((r) => allowed.includes(r));
}

/** The main navigation, in order; an entry shows only to roles that may use it. */
export const NAV = [
  { route: "alerts", label: "Alerts", capability: "alerts:read" },
  { route: "live", label: "Live", capability: "video:view" },
  { route: "cameras", label: "Cameras", capability: "cameras:read" },
  { route: "map", label: "Map", capability: "cameras:read" },
  { route: "playback", label: "Playback", capability: "recordings:play" },
  { route: "deployments", label: "Deployments", capability: "deployments:read" },
  { route: "plates", label: "Plates", capability: "plates:hotlists" },
  { route: "appearance", label: "Appearance", capability: "sightings:search" },
  { route: "footage", label: "Footage search", capability: "footage:search" },
  { route: "cases", label: "Cases", capability: "cases:read" },
  { route: "crowd", label: "Crowds", capability: "crowd:read" },
  { route: "watchlists", label: "Watchlists", capability: "watchlists:read" },
  { route: "audit", label: "Audit", capability: "audit:read" },
  { route: "oversight", label: "Oversight", capability: "reports:read" },
];

/** The first page a user lands on after signing in: the one their role works in most. */
export function home(user) {
  if (can(user, "alerts:read")) return "alerts";
  if (can(user, "audit:read")) return "audit";
  if (user.roles.includes(A)) return "deployments";
  return "cameras";
}
