// The test call on a character's page: create a realtime session, wait until it is READY,
// consume its key once, and hand the credentials to the <characters-call> widget
// (/widget/characters-call.js: el.credentials = {sessionId, url, token}; el.start()).

import { api, consumeSession } from "./api.js";
import { creditRate } from "./config.js";
import { describe, h, isAbort, showIn, sleep } from "./dom.js";

const READY_TIMEOUT_MS = 60_000;
const END_REASONS = {
  hangup: "you hung up",
  completed: "the session completed",
  "max-duration": "it reached its longest allowed duration",
  cancelled: "the session was cancelled",
  failed: "the session failed",
};
const STATE_TEXT = {
  idle: "Ready to start.",
  connecting: "Connecting the call…",
  active: "In call: speak to the character.",
  ending: "Ending the call…",
  ended: "The call has ended.",
  error: "The call failed.",
};

/** Load the widget module; resolves when <characters-call> is defined, rejects if it is not. */
async function loadWidget() {
  try {
    await import("/widget/characters-call.js");
  } catch {
    throw new Error("The call widget (/widget/characters-call.js) could not be loaded from this server.");
  }
  if (!customElements.get("characters-call")) {
    await Promise.race([customElements.whenDefined("characters-call"), sleep(3000)]);
  }
  if (!customElements.get("characters-call")) {
    throw new Error("This server's call widget does not define <characters-call> yet, so test calls cannot start here.");
  }
}

/** Create a session and wait until it is READY; returns {id, sessionKey}. */
async function readySession(avatarId, signal, onStatus) {
  const { id } = await api.post("/realtime_sessions", { model: "gwm1_avatars", avatar: { type: "custom", avatarId } }, { signal });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const session = await api.get(`/realtime_sessions/${id}`, { signal });
    if (session.status === "READY") return { id, sessionKey: session.sessionKey };
    if (session.status === "FAILED") throw new Error(`The session failed: ${session.failure} (${session.failureCode}).`);
    if (session.status !== "NOT_READY") throw new Error(`The session is ${session.status.toLowerCase()} and cannot be joined.`);
    onStatus(session.queued ? "Waiting for a free call slot…" : "Preparing the session…", id);
    if (Date.now() > deadline) {
      await api.delete(`/realtime_sessions/${id}`).catch(() => {});
      throw new Error("No call slot became free within a minute; the session was cancelled. Try again later.");
    }
    await sleep(1000, signal);
  }
}

export function callPanel(ctx, avatar) {
  const status = h("p", { class: "call-status", role: "status" }, "Talk to the character with your microphone.");
  const errors = h("div", {});
  const start = h("button", { type: "button", class: "button primary" }, "Start test call");
  const stage = h("div", { class: "call-stage" });
  const transcript = h("ol", { class: "transcript live", "aria-live": "polite", "aria-label": "Live transcript" });
  const after = h("div", {});

  let widget = null;
  let session = null; // {id, consumed}

  function setState(state) {
    status.textContent = STATE_TEXT[state] || state;
    start.hidden = ["connecting", "active", "ending"].includes(state);
    start.disabled = false;
    start.textContent = state === "ended" || state === "error" ? "Start another test call" : "Start test call";
    status.dataset.state = state;
  }

  function transcriptLine({ role, turn, text: words, final }) {
    const key = `${role}-${turn}`;
    let item = transcript.querySelector(`[data-key="${key}"]`);
    if (!item) {
      item = h("li", { class: `turn ${role}`, dataset: { key } }, h("span", { class: "who" }, role === "user" ? "You" : avatar.name), h("p", {}));
      transcript.append(item);
    }
    item.querySelector("p").textContent = words;
    item.classList.toggle("interim", !final);
  }

  async function cancelUnused() {
    if (session && !session.consumed) {
      const id = session.id;
      session = null;
      await api.delete(`/realtime_sessions/${id}`).catch(() => {});
    }
  }

  ctx.onCleanup(() => {
    if (widget && ["connecting", "active"].includes(widget.getAttribute("state"))) {
      widget.end().catch(() => {});
    }
    cancelUnused();
  });

  start.addEventListener("click", async () => {
    showIn(errors, null);
    after.replaceChildren();
    transcript.replaceChildren();
    start.disabled = true;
    try {
      status.textContent = "Loading the call widget…";
      await loadWidget();
      status.textContent = "Creating a session…";
      const ready = await readySession(avatar.id, ctx.signal, (text, id) => {
        session = { id, consumed: false };
        status.textContent = text;
      });
      session = { id: ready.id, consumed: false };
      status.textContent = "Getting the call's credentials…";
      const creds = await consumeSession(ready.id, ready.sessionKey, { signal: ctx.signal });
      session.consumed = true;
      widget = document.createElement("characters-call");
      widget.setAttribute("character-name", avatar.name);
      // The panel keeps the whole conversation below the video; captions over it would repeat it.
      widget.setAttribute("captions", "off");
      if (avatar.referenceImageUri) widget.setAttribute("poster", avatar.referenceImageUri);
      widget.addEventListener("statechange", (event) => setState(event.detail.state));
      widget.addEventListener("transcript", (event) => transcriptLine(event.detail));
      widget.addEventListener("error", (event) => {
        const detail = event.detail || {};
        showIn(errors, `${detail.message || "The call failed."}${detail.code ? ` (${detail.code})` : ""}`, { title: "Call error" });
      });
      widget.addEventListener("end", (event) => {
        const reason = event.detail?.reason;
        const why = END_REASONS[reason] || reason;
        after.replaceChildren(
          h(
            "p",
            { class: "call-ended" },
            `The call ended${why ? `: ${why}` : ""}. `,
            h("a", { href: `#/sessions/${ready.id}` }, "See its transcript and recording"),
            " (the recording is ready a few seconds after the call).",
          ),
        );
      });
      stage.replaceChildren(widget);
      widget.credentials = { sessionId: ready.id, url: creds.url, token: creds.token, iceServers: creds.iceServers };
      widget.start().catch(() => {}); // failures arrive as `error` events
    } catch (error) {
      if (isAbort(error) || ctx.signal.aborted) return;
      await cancelUnused();
      setState("idle");
      status.textContent = "The test call could not start.";
      showIn(errors, describe(error), { title: "The test call could not start." });
    }
  });
  const costNote = h("span", {}, "uses credits");
  creditRate().then((rate) => {
    costNote.textContent = `costs ${rate}`;
  });
  return h(
    "section",
    { class: "panel call-panel", "aria-labelledby": `call-title-${avatar.id}` },
    h("h2", { id: `call-title-${avatar.id}` }, "Test call"),
    h(
      "p",
      { class: "hint" },
      "A real session through the call widget: speak, or type below the video. It ",
      costNote,
      " and is listed under Sessions with its transcript and recording.",
    ),
    status,
    errors,
    h("div", { class: "button-row" }, start),
    stage,
    transcript,
    after,
  );
}
