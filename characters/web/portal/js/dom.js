// Small DOM helpers shared by every screen: element builders, messages, formatting, dialogs.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** An HTML element: h("p", {class: "hint"}, "text", child, …). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, like h(). */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

let ids = 0;
/** A unique element id with a readable prefix. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A message box. kind: error | warning | success | info. Errors are announced (role=alert). */
export function message(text, { kind = "error", title = null } = {}) {
  const role = kind === "error" ? "alert" : "status";
  return h(
    "div",
    { class: `alert alert-${kind}`, role },
    title ? h("strong", { class: "alert-title" }, title) : null,
    h("span", { class: "alert-text" }, text),
  );
}

/** Put a message (or nothing) into a slot element. */
export function showIn(slot, text, options = {}) {
  slot.replaceChildren();
  if (text) slot.append(message(text, options));
}

/** A loading line with a spinner. */
export function loading(text) {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/** Announce a short text to screen readers (the page's polite live region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** The human text of any error: the server's own message for API errors. */
export function describe(error) {
  if (error && typeof error.message === "string" && error.message) return error.message;
  return "Something went wrong. Try again.";
}

const STATUS_TEXT = {
  PROCESSING: "Processing",
  READY: "Ready",
  FAILED: "Failed",
  NOT_READY: "Starting",
  RUNNING: "Running",
  COMPLETED: "Completed",
  CANCELLED: "Cancelled",
  in_progress: "In progress",
  ended: "Ended",
  failed: "Failed",
};

/** A coloured status pill. */
export function badge(status) {
  const key = String(status || "").toLowerCase().replace(/[^a-z]+/g, "-");
  return h("span", { class: `badge badge-${key}`, dataset: { status } }, STATUS_TEXT[status] || status);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = String(s % 60).padStart(2, "0");
  if (m < 60) return `${m} min ${rest} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** mm:ss for positions in a recording. */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function formatDate(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatNumber(n) {
  return new Intl.NumberFormat().format(n);
}

/**
 * A modal confirmation (native <dialog>: focus is trapped and Escape cancels).
 * Resolves true when the user confirms.
 */
export function confirmDialog({ title, text, confirm = "Delete", cancel = "Cancel", danger = true }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    const yes = h("button", { type: "button", class: `button ${danger ? "danger" : "primary"}` }, confirm);
    const no = h("button", { type: "button", class: "button secondary" }, cancel);
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, text),
      h("div", { class: "dialog-actions" }, no, yes),
    );
    let answer = false;
    yes.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** Sleep that ends early (rejecting with AbortError) when the signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException("Aborted", "AbortError"));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("Aborted", "AbortError"));
      },
      { once: true },
    );
  });
}

export function isAbort(error) {
  return error && error.name === "AbortError";
}

/** Move focus to the screen's heading, so keyboard and screen-reader users start there. */
export function focusHeading() {
  const heading = document.querySelector("main h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}
