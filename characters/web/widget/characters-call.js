// <characters-call>: a live call with a character, embeddable in any page.
//
//   <script type="module" src="https://characters.example.com/widget/characters-call.js"></script>
//   <characters-call avatar-id="…" connect-url="/connect"></characters-call>
//
// Built on client.js (the same folder). Attributes, properties, methods, events, CSS custom
// properties and messages: docs/widget.md.

import {
  CallError,
  CallSession,
  DEFAULT_BASE_URL,
  PAGE_ACTIONS,
  performPageAction,
} from "./client.js";

// The default look of an element a character highlights (a page action), at zero specificity
// so the page's own [data-avatar-highlighted] rule wins.
const HIGHLIGHT_STYLE = `
:where([data-avatar-highlighted]) {
  outline: 3px solid var(--characters-highlight, #f59e0b);
  outline-offset: 3px;
  border-radius: 4px;
}`;

function addHighlightStyle() {
  if (document.getElementById("characters-call-highlight")) return;
  const style = document.createElement("style");
  style.id = "characters-call-highlight";
  style.textContent = HIGHLIGHT_STYLE;
  document.head.append(style);
}

const ICONS = {
  mic: '<path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2Z"/>',
  micOff:
    '<path d="M19 11h-2a5 5 0 0 1-.7 2.56l1.46 1.46A6.96 6.96 0 0 0 19 11Zm-4 .17V5a3 3 0 0 0-5.94-.6L15 10.34v.83ZM4.27 3 3 4.27l6 6V11a3 3 0 0 0 4.5 2.6l1.66 1.66A5 5 0 0 1 7 11H5a7 7 0 0 0 6 6.92V21h2v-3.08a6.9 6.9 0 0 0 3.33-1.3L19.73 20 21 18.73 4.27 3Z"/>',
  hangUp:
    '<path d="M12 9c-1.6 0-3.15.25-4.6.72v3.1c0 .39-.23.74-.56.9-.98.49-1.87 1.12-2.66 1.85a1 1 0 0 1-1.41-.01L.29 13.08a1 1 0 0 1 0-1.41C3.34 8.77 7.46 7 12 7s8.66 1.77 11.71 4.67a1 1 0 0 1 0 1.41l-2.48 2.48a1 1 0 0 1-1.41.01 11.6 11.6 0 0 0-2.66-1.85 1 1 0 0 1-.56-.9v-3.1A15 15 0 0 0 12 9Z"/>',
  call: '<path d="M6.62 10.79a15.05 15.05 0 0 0 6.59 6.59l2.2-2.2a1 1 0 0 1 1.02-.24c1.12.37 2.33.57 3.57.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1.02l-2.2 2.2Z"/>',
  send: '<path d="M2.01 21 23 12 2.01 3 2 10l15 2-15 2z"/>',
  sound:
    '<path d="M3 9v6h4l5 5V4L7 9H3Zm13.5 3A4.5 4.5 0 0 0 14 7.97v8.05A4.5 4.5 0 0 0 16.5 12ZM14 3.23v2.06a7 7 0 0 1 0 13.42v2.06A9 9 0 0 0 14 3.23Z"/>',
};
const icon = (name) =>
  `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${ICONS[name]}</svg>`;

const STYLE = `
:host {
  --_accent: var(--characters-accent, #4f46e5);
  --_on-accent: var(--characters-on-accent, #ffffff);
  --_danger: var(--characters-danger, #dc2626);
  --_bg: var(--characters-background, #0f172a);
  --_surface: var(--characters-surface, #1e293b);
  --_fg: var(--characters-foreground, #f8fafc);
  --_muted: var(--characters-muted, #94a3b8);
  --_radius: var(--characters-radius, 16px);
  --_font: var(--characters-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --_caption-bg: var(--characters-caption-background, rgb(0 0 0 / 0.62));
  --_caption-fg: var(--characters-caption-foreground, #ffffff);
  --_caption-size: var(--characters-caption-size, 1rem);
  --_ratio: var(--characters-aspect-ratio, 17 / 11);
  display: block;
  container-type: inline-size;
  max-width: var(--characters-max-width, 720px);
  font-family: var(--_font);
  color: var(--_fg);
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  background: var(--_bg);
  border-radius: var(--_radius);
  overflow: hidden;
  display: flex;
  flex-direction: column;
}
.stage {
  position: relative;
  aspect-ratio: var(--_video-ratio, var(--_ratio));
  background: #000;
  max-height: 80vh;
}
video {
  position: absolute;
  inset: 0;
  width: 100%;
  height: 100%;
  object-fit: contain;
  background: #000;
}
.overlay {
  position: absolute;
  inset: 0;
  display: flex;
  flex-direction: column;
  align-items: center;
  justify-content: center;
  gap: 0.75rem;
  padding: 1.25rem;
  text-align: center;
  background: rgb(0 0 0 / 0.55);
}
.message { margin: 0; max-width: 34rem; line-height: 1.45; }
.message strong { display: block; font-size: 1.1rem; margin-bottom: 0.25rem; }
.message[data-kind="error"] strong { color: #fecaca; }
.spinner {
  width: 2.25rem; height: 2.25rem; border-radius: 50%;
  border: 3px solid rgb(255 255 255 / 0.25); border-top-color: var(--_fg);
  animation: spin 0.9s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation: none; } }
button {
  font: inherit;
  cursor: pointer;
  border: 0;
  border-radius: calc(var(--_radius) * 0.75);
  display: inline-flex;
  align-items: center;
  justify-content: center;
  gap: 0.5rem;
  padding: 0.6rem 1rem;
  min-height: 2.75rem;
  min-width: 2.75rem;
  color: var(--_fg);
  background: var(--_surface);
}
button:focus-visible, input:focus-visible {
  outline: 3px solid var(--_accent);
  outline-offset: 2px;
}
button:disabled { opacity: 0.45; cursor: not-allowed; }
button svg { width: 1.25rem; height: 1.25rem; fill: currentColor; flex: none; }
.primary { background: var(--_accent); color: var(--_on-accent); font-weight: 600; padding: 0.75rem 1.4rem; }
.danger { background: var(--_danger); color: #fff; }
button[aria-pressed="true"] { background: var(--_fg); color: var(--_bg); }
.captions {
  position: absolute;
  left: 0; right: 0; bottom: 0;
  padding: 0.75rem;
  display: flex;
  flex-direction: column;
  gap: 0.35rem;
  pointer-events: none;
}
.captions:empty { display: none; }
.line {
  margin: 0;
  align-self: flex-start;
  max-width: 100%;
  padding: 0.3rem 0.6rem;
  border-radius: calc(var(--_radius) * 0.5);
  background: var(--_caption-bg);
  color: var(--_caption-fg);
  font-size: var(--_caption-size);
  line-height: 1.35;
}
.line .who { font-weight: 700; margin-right: 0.4rem; }
.line.user { align-self: flex-end; }
.line.interim { opacity: 0.8; font-style: italic; }
.bar {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem;
  padding: 0.6rem;
  background: var(--_surface);
}
.controls { display: flex; gap: 0.5rem; }
form { flex: 1 1 16rem; display: flex; gap: 0.5rem; min-width: 0; margin: 0; }
input {
  flex: 1; min-width: 0;
  font: inherit;
  color: var(--_fg);
  background: var(--_bg);
  border: 1px solid rgb(148 163 184 / 0.35);
  border-radius: calc(var(--_radius) * 0.75);
  padding: 0.55rem 0.8rem;
  min-height: 2.75rem;
}
input::placeholder { color: var(--_muted); }
input:disabled { opacity: 0.45; cursor: not-allowed; }
.status {
  margin: 0;
  padding: 0 0.9rem 0.6rem;
  background: var(--_surface);
  color: var(--_muted);
  font-size: 0.875rem;
  min-height: 1.4rem;
}
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.unmute { position: absolute; top: 0.75rem; right: 0.75rem; }
@container (max-width: 420px) {
  .label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .line { font-size: calc(var(--_caption-size) * 0.875); }
  .bar { padding: 0.45rem; }
}
`;

const TEMPLATE = `
<style>${STYLE}</style>
<div class="root" part="root">
  <div class="stage" part="stage">
    <video part="video" playsinline autoplay aria-label="The character"></video>
    <div class="captions" part="captions" aria-hidden="true"></div>
    <div class="sr-only transcript" role="log" aria-live="polite" aria-label="Conversation"></div>
    <button type="button" class="unmute primary" part="unmute-button" hidden>${icon("sound")}<span>Turn sound on</span></button>
    <div class="overlay" part="overlay">
      <div class="spinner" hidden></div>
      <p class="message"></p>
      <button type="button" class="start primary" part="start-button">${icon("call")}<span class="start-label">Start call</span></button>
    </div>
  </div>
  <div class="bar" part="controls">
    <div class="controls">
      <button type="button" class="mute" part="mute-button" aria-pressed="false" disabled>${icon("mic")}<span class="label">Mute</span></button>
      <button type="button" class="hangup danger" part="hangup-button" disabled>${icon("hangUp")}<span class="label">Hang up</span></button>
    </div>
    <form part="composer">
      <label class="sr-only" for="text">Message to the character</label>
      <input id="text" name="text" type="text" autocomplete="off" maxlength="2000" placeholder="Type a message…" disabled>
      <button type="submit" class="send" part="send-button" disabled>${icon("send")}<span class="label">Send</span></button>
    </form>
  </div>
  <p class="status" part="status" role="status" aria-live="polite"></p>
</div>
`;

const ERROR_TITLES = {
  MEDIA_PERMISSION_DENIED: "Microphone blocked",
  MEDIA_DEVICE_ERROR: "Microphone problem",
  UNSUPPORTED_BROWSER: "Calls are not supported here",
  SESSION_CREATE_FAILED: "Could not connect",
  CONSUME_FAILED: "Could not connect",
  CONNECTION_FAILED: "Could not connect",
  MISSING_CREDENTIALS: "Nothing to connect to",
  SESSION_FAILED: "The call failed",
};

const END_MESSAGES = {
  hangup: "Call ended.",
  "max-duration": "The call reached its time limit and ended.",
  cancelled: "The call was cancelled.",
  completed: "The call ended.",
  disconnected: "The connection to the character was lost.",
};

const CHARACTER_STATES = {
  listening: "Listening…",
  thinking: "Thinking…",
  speaking: "Speaking",
};

const CAPTION_LINES = 3;

export class CharactersCallElement extends HTMLElement {
  static observedAttributes = ["captions", "character-name", "poster"];

  #root;
  #els = {};
  #call = null;
  #credentials = null;
  #connect = null;
  #muted = false;
  #state = "idle";
  #notice = "";
  #announced = new Set();

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#root.innerHTML = TEMPLATE;
    const $ = (selector) => this.#root.querySelector(selector);
    this.#els = {
      video: $("video"),
      captions: $(".captions"),
      log: $(".transcript"),
      overlay: $(".overlay"),
      spinner: $(".spinner"),
      message: $(".message"),
      start: $(".start"),
      startLabel: $(".start-label"),
      unmute: $(".unmute"),
      mute: $(".mute"),
      hangup: $(".hangup"),
      form: $("form"),
      input: $("input"),
      send: $(".send"),
      status: $(".status"),
    };
    const { start, unmute, mute, hangup, form, video } = this.#els;
    start.addEventListener("click", () => this.start().catch(() => {}));
    hangup.addEventListener("click", () => this.end());
    mute.addEventListener("click", () => this.setMuted(!this.#muted));
    unmute.addEventListener("click", () => {
      video.muted = false;
      video.play().catch(() => {});
      unmute.hidden = true;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitText();
    });
    video.addEventListener("loadedmetadata", () => {
      if (video.videoWidth && video.videoHeight) {
        this.#els.video.parentElement.style.setProperty(
          "--_video-ratio",
          `${video.videoWidth} / ${video.videoHeight}`,
        );
      }
    });
  }

  connectedCallback() {
    this.#render();
    if (this.hasAttribute("autoconnect") && this.#state === "idle") {
      queueMicrotask(() => {
        if (this.isConnected && this.#state === "idle") this.start().catch(() => {});
      });
    }
  }

  disconnectedCallback() {
    if (this.#call && ["connecting", "active"].includes(this.#state)) this.#call.end();
  }

  attributeChangedCallback(name, _old, value) {
    if (name === "poster") {
      if (value) this.#els.video.poster = value;
      else this.#els.video.removeAttribute("poster");
    }
    this.#renderCaptions();
  }

  // -- properties ------------------------------------------------------------------------------

  /** Credentials consumed elsewhere: {sessionId, url (or serverUrl), token}. */
  get credentials() {
    return this.#credentials;
  }

  set credentials(value) {
    this.#credentials = value || null;
  }

  /** A function (avatarId) => Promise<shape A or B>, instead of connect-url. */
  get connect() {
    return this.#connect;
  }

  set connect(value) {
    this.#connect = typeof value === "function" ? value : null;
  }

  /** idle | connecting | active | ending | ended | error (also the `state` attribute). */
  get state() {
    return this.#state;
  }

  get sessionId() {
    return this.#call?.sessionId ?? null;
  }

  get muted() {
    return this.#muted;
  }

  /** The transcript so far: [{id, role, turn, text, final}]. */
  get transcript() {
    return this.#call?.transcript ?? [];
  }

  /** The underlying CallSession (client.js), once started. */
  get call() {
    return this.#call;
  }

  // -- methods ---------------------------------------------------------------------------------

  /** Starts a call (asks for the microphone first). Resolves once connected. */
  async start() {
    if (["connecting", "active", "ending"].includes(this.#state)) return;
    const attr = (name) => this.getAttribute(name) || undefined;
    const credentials = this.#credentials;
    const call = new CallSession({
      avatarId: attr("avatar-id"),
      credentials: credentials || undefined,
      sessionId: attr("session-id"),
      sessionKey: attr("session-key"),
      connect: this.#connect || undefined,
      connectUrl: attr("connect-url"),
      baseUrl: attr("base-url") || DEFAULT_BASE_URL,
    });
    this.#call = call;
    this.#notice = "";
    this.#announced.clear();
    this.#els.log.replaceChildren();
    this.#els.video.srcObject = null;
    this.#els.video.muted = false;
    this.#listen(call, credentials);
    call.setMuted(this.#muted);
    await call.start();
    this.#play();
  }

  /** Hangs up. */
  async end() {
    await this.#call?.end();
  }

  /** Mutes (true) or unmutes (false) the microphone. */
  setMuted(muted) {
    this.#muted = Boolean(muted);
    this.#call?.setMuted(this.#muted);
    this.#render();
  }

  /** Sends typed text to the character. */
  sendText(text) {
    if (!this.#call) throw new CallError("NOT_CONNECTED", "The call is not connected.");
    this.#call.sendText(text);
  }

  // -- internals -------------------------------------------------------------------------------

  #listen(call, credentials) {
    const forward = (type) =>
      call.addEventListener(type, (event) => {
        if (call !== this.#call) return;
        this.dispatchEvent(
          new CustomEvent(type, { detail: event.detail, bubbles: true, composed: true }),
        );
      });
    call.addEventListener("statechange", (event) => {
      if (call !== this.#call) return;
      this.#state = event.detail.state;
      this.setAttribute("state", this.#state);
      this.#render();
    });
    call.addEventListener("media", (event) => {
      if (call !== this.#call) return;
      if (this.#els.video.srcObject !== event.detail.stream) {
        this.#els.video.srcObject = event.detail.stream;
      }
    });
    call.addEventListener("transcript", () => call === this.#call && this.#renderCaptions());
    call.addEventListener("characterstate", () => call === this.#call && this.#render());
    call.addEventListener("session", (event) => {
      if (call !== this.#call) return;
      const { status, endsInSeconds } = event.detail;
      if (status === "ENDING") {
        this.#notice = `The call ends in ${endsInSeconds ?? "a few"} s.`;
        this.#render();
      }
    });
    call.addEventListener("warning", (event) => {
      if (call !== this.#call) return;
      this.#notice = `A problem on the server: ${event.detail.message}`;
      this.#render();
    });
    call.addEventListener("end", () => {
      if (call !== this.#call) return;
      // Credentials work once, unless the call ended before it used them (a blocked
      // microphone, no WebRTC): then "Try again" may use them.
      const unused = ["MEDIA_PERMISSION_DENIED", "MEDIA_DEVICE_ERROR", "UNSUPPORTED_BROWSER"];
      if (!unused.includes(call.error?.code) && this.#credentials === credentials) {
        this.#credentials = null;
      }
      this.#els.video.srcObject = null; // the poster (if any) again, not a frozen frame
      this.#els.unmute.hidden = true;
      this.#render();
    });
    call.addEventListener("clientevent", (event) => call === this.#call && this.#clientEvent(event));
    for (const type of ["statechange", "transcript", "error", "end"]) forward(type);
    for (const type of ["characterstate", "session", "warning", "media"]) forward(type);
    for (const type of ["toolcall", "toolresult"]) forward(type);
  }

  /** A client_event: re-emitted on the element (cancelable); a page action not cancelled
   * (and not turned off with page-actions="off") is then performed on the page. */
  #clientEvent(event) {
    const { tool, args } = event.detail;
    const dom = new CustomEvent("clientevent", {
      detail: event.detail,
      bubbles: true,
      composed: true,
      cancelable: true,
    });
    const proceed = this.dispatchEvent(dom);
    const off = ["off", "false", "none"].includes(
      (this.getAttribute("page-actions") || "").toLowerCase(),
    );
    if (!proceed || off || !PAGE_ACTIONS.includes(tool)) return;
    if (tool === "highlight") addHighlightStyle();
    const element = performPageAction(tool, args);
    this.dispatchEvent(
      new CustomEvent("pageaction", {
        detail: { tool, target: args?.target ?? null, found: Boolean(element), element },
        bubbles: true,
        composed: true,
      }),
    );
  }

  #play() {
    const video = this.#els.video;
    video.play().catch(() => {
      // Autoplay with sound needs a user gesture (autoconnect): start muted, offer the sound.
      video.muted = true;
      video.play().catch(() => {});
      this.#els.unmute.hidden = false;
    });
  }

  #submitText() {
    const input = this.#els.input;
    const text = input.value.trim();
    if (!text) return;
    try {
      this.sendText(text);
      input.value = "";
    } catch (error) {
      this.#notice = error.message;
      this.#render();
    }
  }

  #render() {
    const e = this.#els;
    const state = this.#state;
    if (!this.hasAttribute("state") || this.getAttribute("state") !== state) {
      this.setAttribute("state", state);
    }
    const live = state === "active";
    e.mute.disabled = !live;
    e.hangup.disabled = !(live || state === "connecting");
    e.input.disabled = !live;
    e.send.disabled = !live;
    if (e.mute.getAttribute("aria-pressed") !== String(this.#muted)) {
      e.mute.setAttribute("aria-pressed", String(this.#muted));
      e.mute.innerHTML = `${icon(this.#muted ? "micOff" : "mic")}<span class="label">Mute</span>`;
    }

    e.overlay.hidden = live;
    e.spinner.hidden = !(state === "connecting" || state === "ending");
    e.start.hidden = !["idle", "ended", "error"].includes(state) || !this.#canStart();
    e.startLabel.textContent =
      state === "idle" ? "Start call" : state === "error" ? "Try again" : "Start a new call";
    let title = "";
    let body = "";
    if (state === "connecting") title = "Connecting…";
    else if (state === "ending") title = "Hanging up…";
    else if (state === "error" && this.#call?.error) {
      title = ERROR_TITLES[this.#call.error.code] || "Something went wrong";
      body = this.#call.error.message;
    } else if (state === "ended") title = END_MESSAGES[this.#call?.ending?.reason] || "The call ended.";
    this.#message(state === "error" ? "error" : "info", title, body);

    let status = "";
    if (state === "idle") status = "Ready to call.";
    else if (state === "connecting") status = "Connecting…";
    else if (live) {
      status = CHARACTER_STATES[this.#call?.characterState] || "Connected.";
      if (this.#muted) status += " Your microphone is muted.";
      if (this.#notice) status += ` ${this.#notice}`;
    } else if (state === "ending") status = "Hanging up…";
    else if (state === "ended") status = title;
    else if (state === "error") status = `${title}.`; // the details are in the alert above
    if (e.status.textContent !== status) e.status.textContent = status;
    this.#renderCaptions();
  }

  #message(kind, title, body) {
    const message = this.#els.message;
    const key = JSON.stringify([kind, title, body]);
    if (message.dataset.key === key) return; // unchanged: no churn for screen readers
    message.dataset.key = key;
    message.dataset.kind = kind;
    // Errors interrupt (alert); everything else is announced by the status line.
    if (kind === "error") message.setAttribute("role", "alert");
    else message.removeAttribute("role");
    const strong = document.createElement("strong");
    strong.textContent = title;
    message.replaceChildren(...(title ? [strong] : []), ...(body ? [body] : []));
  }

  #canStart() {
    return Boolean(
      this.#credentials ||
        this.#connect ||
        this.getAttribute("connect-url") ||
        (this.getAttribute("session-id") && this.getAttribute("session-key")),
    );
  }

  #renderCaptions() {
    const box = this.#els.captions;
    if (!box) return;
    if (!this.#call) {
      box.replaceChildren();
      return;
    }
    const name = this.getAttribute("character-name") || "Character";
    const entries = this.#call.transcript.filter((entry) => entry.text.trim());
    // Screen readers hear each finished line once, not every word as it arrives.
    for (const entry of entries) {
      if (!entry.final || this.#announced.has(entry.id)) continue;
      this.#announced.add(entry.id);
      const said = document.createElement("p");
      said.textContent = `${entry.role === "user" ? "You" : name}: ${entry.text.trim()}`;
      this.#els.log.append(said);
      while (this.#els.log.childElementCount > 50) this.#els.log.firstElementChild.remove();
    }
    const off = ["off", "false", "none"].includes((this.getAttribute("captions") || "").toLowerCase());
    box.hidden = off;
    if (off || this.#state !== "active") {
      box.replaceChildren();
      return;
    }
    const lines = entries.slice(-CAPTION_LINES);
    box.replaceChildren(
      ...lines.map((entry) => {
        const line = document.createElement("p");
        line.className = `line ${entry.role}${entry.final ? "" : " interim"}`;
        line.dataset.role = entry.role;
        line.dataset.turn = String(entry.turn);
        const who = document.createElement("span");
        who.className = "who";
        who.textContent = entry.role === "user" ? "You" : name;
        line.append(who, document.createTextNode(entry.text.trim()));
        return line;
      }),
    );
  }
}

if (!customElements.get("characters-call")) {
  customElements.define("characters-call", CharactersCallElement);
}
