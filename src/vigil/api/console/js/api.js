// The console's only way to the server: same-origin calls to the public API.
//
// A cookie session (HttpOnly, so this code never sees it) authenticates every call; unsafe
// methods also send the CSRF token the login answer gave, kept in sessionStorage for this tab.
// Every failure arrives as the API's one error envelope and is thrown as an ApiError carrying
// its status, code and message, so views show the server's own words for a refusal.

const CSRF_KEY = "vigil.csrf";
const BASE = "/api/v1";

/** An error answer of the API: `{"error": {"code", "message", "detail"}}`. */
export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail ?? null;
  }

  /** The message with its hint (a 429 says when to retry, for example). */
  get fullMessage() {
    return typeof this.detail === "string" ? `${this.message} (${this.detail})` : this.message;
  }
}

let onUnauthenticated = () => {};

/** Called whenever the API answers 401 (the session expired or was revoked). */
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

export function csrfToken() {
  return sessionStorage.getItem(CSRF_KEY);
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy or the network answered, not the API
  }
  const err = body && body.error;
  if (err && typeof err.message === "string") {
    return new ApiError(response.status, err.code, err.message, err.detail);
  }
  return new ApiError(response.status, "http_error", `the server answered ${response.status}`);
}

/**
 * Call the API. `body` is sent as JSON; `headers` are added. Returns the parsed JSON answer,
 * or the Response itself when `raw` is set (images).
 */
export async function call(method, path, { body, headers = {}, raw = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (body instanceof FormData) {
    init.body = body; // multipart: the browser writes the Content-Type with its boundary
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (!["GET", "HEAD"].includes(method)) {
    const token = csrfToken();
    if (token) init.headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(`${BASE}${path}`, init);
  } catch {
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && !["/auth/login", "/auth/logout"].includes(path)) {
      onUnauthenticated(error);
    }
    throw error;
  }
  return raw ? response : response.json();
}

export const get = (path, opts) => call("GET", path, opts);
export const post = (path, body, opts = {}) => call("POST", path, { ...opts, body });

/** Log in with a cookie session; returns the user. */
export async function login(username, password) {
  const answer = await post("/auth/login", { username, password, mode: "cookie" });
  sessionStorage.setItem(CSRF_KEY, answer.csrf_token);
  return answer.user;
}

/**
 * Sign out on the server. Resolves to "signed_out" (the server ended the session and cleared
 * the cookie) or "already_ended" (the server no longer knew the session: a 401, which also
 * clears the cookie); throws the ApiError of any other failure, when the session may still be
 * valid. The server needs no CSRF token here, so a token lost to a restart cannot block it.
 */
export async function logout() {
  try {
    await post("/auth/logout", undefined);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    sessionStorage.removeItem(CSRF_KEY);
    return "already_ended";
  }
  sessionStorage.removeItem(CSRF_KEY);
  return "signed_out";
}

export function forgetSession() {
  sessionStorage.removeItem(CSRF_KEY);
}

/**
 * A biometric image of an alert (`probe` or `enrolled`) as an object URL. The API records the
 * view and its reason in the audit chain; the caller must revoke the URL when done.
 */
export async function biometricImage(alertId, what, reason) {
  const response = await call("GET", `/alerts/${encodeURIComponent(alertId)}/${what}`, {
    headers: { "X-Vigil-Reason": reason },
    raw: true,
  });
  return URL.createObjectURL(await response.blob());
}
