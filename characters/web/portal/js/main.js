// The portal's shell: sign-in, the hash router, and the lifecycle of a screen.
//
// Each screen is a function (ctx, ...params) that renders into ctx.main. ctx.signal aborts and
// ctx.onCleanup callbacks run when the user leaves the screen, so polls, calls and blob URLs
// never outlive it.

import { api, auth, onUnauthorized } from "./api.js";
import { characterDetail, characterForm, characterList } from "./characters.js";
import { describe, focusHeading, h, isAbort, message, showIn } from "./dom.js";
import { placeKeypoints } from "./face.js";
import { knowledgeList } from "./knowledge.js";
import { organizationView } from "./organization.js";
import { sessionDetail, sessionList } from "./sessions.js";

const KEY_FORMAT = /^key_[0-9a-f]{128}$/;

const ROUTES = [
  [/^\/characters\/?$/, "characters", characterList],
  [/^\/characters\/new$/, "characters", (ctx) => characterForm(ctx, null)],
  [/^\/characters\/([\w-]+)\/edit$/, "characters", characterForm],
  [/^\/characters\/([\w-]+)\/face$/, "characters", placeKeypoints],
  [/^\/characters\/([\w-]+)$/, "characters", characterDetail],
  [/^\/sessions\/?$/, "sessions", sessionList],
  [/^\/sessions\/([\w-]+)$/, "sessions", sessionDetail],
  [/^\/knowledge\/?$/, "knowledge", knowledgeList],
  [/^\/organization\/?$/, "organization", organizationView],
];

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let current = null; // {controller, cleanups}

function leaveScreen() {
  if (!current) return;
  current.controller.abort();
  for (const cleanup of current.cleanups.splice(0)) {
    try {
      cleanup();
    } catch (error) {
      console.warn("cleanup failed", error);
    }
  }
  current = null;
}

function path() {
  const hash = window.location.hash.replace(/^#/, "");
  return hash || "/characters";
}

function navigate(to) {
  if (window.location.hash === `#${to}`) route();
  else window.location.hash = to;
}

async function route() {
  leaveScreen();
  if (!auth.key) {
    signIn();
    return;
  }
  topbar.hidden = false;
  const where = path();
  const found = ROUTES.map(([pattern, section, view]) => [where.match(pattern), section, view]).find(
    ([match]) => match,
  );
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  const ctx = {
    main,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    navigate,
    title: (text) => {
      document.title = `${text} · Characters`;
    },
  };
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (found && link.dataset.nav === found[1]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  if (!found) {
    ctx.title("Not found");
    main.append(
      h("h1", { tabindex: "-1" }, "Page not found"),
      message("There is no page at this address.", { kind: "warning" }),
      h("p", {}, h("a", { href: "#/characters" }, "Go to your characters")),
    );
    focusHeading();
    return;
  }
  const [match, , view] = found;
  try {
    await view(ctx, ...match.slice(1));
  } catch (error) {
    if (isAbort(error) || controller.signal.aborted) return;
    console.warn(error);
    main.append(message(describe(error), { title: "This page could not be shown." }));
  }
}

function signIn(notice = null) {
  topbar.hidden = true;
  document.title = "Sign in · Characters";
  const errorSlot = h("div", { id: "key-error", class: "field-message" });
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "key-help key-error",
  });
  const button = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true },
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "key-help", class: "hint" },
      "Make one with ",
      h("code", {}, "characters keys create"),
      ". The key stays in this browser tab only (session storage): it is forgotten when you close the tab or sign out, and never stored in a cookie.",
    ),
    errorSlot,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    input.removeAttribute("aria-invalid");
    if (!key) {
      showIn(errorSlot, "Enter your API key.");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (!KEY_FORMAT.test(key)) {
      showIn(
        errorSlot,
        "This is not an API key: keys start with key_ followed by 128 characters 0–9 and a–f. Check that you copied all of it.",
      );
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    showIn(errorSlot, null);
    try {
      await api.get("/organization", { authorization: `Bearer ${key}` });
      auth.set(key);
      route();
    } catch (error) {
      const text =
        error.status === 401
          ? `This API key was not accepted: ${describe(error)} Check that you copied all of it and that it has not been revoked.`
          : describe(error);
      showIn(errorSlot, text, { title: "Could not sign in." });
      input.setAttribute("aria-invalid", "true");
      input.focus();
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  main.replaceChildren(
    h(
      "section",
      { class: "signin" },
      h("div", { class: "signin-brand", "aria-hidden": "true" }, h("span", { class: "brand-mark large" })),
      h("h1", {}, "Sign in to Characters"),
      h("p", { class: "lead" }, "Create and test conversational video characters, and follow their sessions and usage."),
      notice,
      form,
    ),
  );
  input.focus();
}

function signOut(notice) {
  auth.clear();
  leaveScreen();
  if (window.location.hash && window.location.hash !== "#/characters") {
    history.replaceState(null, "", "#/characters");
  }
  signIn(notice);
}

onUnauthorized(() => {
  if (!auth.key) return;
  signOut(
    message("The server no longer accepts this API key (it may have been revoked). Sign in again.", {
      kind: "warning",
      title: "You were signed out.",
    }),
  );
});

document.getElementById("sign-out").addEventListener("click", () => {
  signOut(message("You are signed out. The key was removed from this tab.", { kind: "info" }));
});

window.addEventListener("hashchange", route);
route();
