// Sign in with a cookie session (the API sets an HttpOnly cookie and returns a CSRF token).

import * as api from "../api.js";
import { apiError, fill, h, message } from "../dom.js";

export function loginView(root, { onSignedIn, notice }) {
  const errors = h("div", { id: "login-errors" });
  const username = h("input", {
    id: "username",
    name: "username",
    autocomplete: "username",
    required: true,
    maxlength: 100,
  });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    maxlength: 1000,
  });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "login", "aria-describedby": "login-errors" },
    h("p", {}, h("label", { for: "username" }, "Username"), username),
    h("p", {}, h("label", { for: "password" }, "Password"), password),
    submit,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fill(errors);
    submit.disabled = true;
    try {
      const user = await api.login(username.value.trim(), password.value);
      password.value = "";
      onSignedIn(user);
    } catch (err) {
      fill(errors, apiError(err, "Sign-in failed"));
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  fill(
    root,
    h("h1", { tabindex: "-1" }, "Sign in to Vigil"),
    notice ? message("info", notice) : null,
    h(
      "p",
      { class: "muted" },
      "Use the account your organisation gave you. Every sign-in, decision and view of a face " +
        "image is written to the audit log.",
    ),
    errors,
    form,
  );
  username.focus();
}
