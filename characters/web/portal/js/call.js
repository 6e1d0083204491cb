// The test call on a character's page: create a realtime session, wait until it is READY,
// consume its key once, and hand the credentials to the <characters-call> widget
// (/widget/characters-call.js: el.credentials = {sessionId, url, token}; el.start()).
// The session's actions (`tools`) are typed here as JSON, checked in the page for shape only
// (tools.js; the server checks the tools themselves), and the character's actions show in the live
// transcript from the widget's `toolcall` and `toolresult` events.

import { api, consumeSession } from "./api.js";
import { creditRate } from "./config.js";
import { describe, h, isAbort, showIn, sleep, uid } from "./dom.js";
import { pageActionsButton, parseTools, refusesTools, TOOLS_PLACEHOLDER } from "./tools.js";

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

/** Create a session (with `tools` when there are any) and wait until it is READY; returns {id, sessionKey}. */
async function readySession(avatarId, tools, signal, onStatus) {
  const body = { model: "gwm1_avatars", avatar: { type: "custom", avatarId } };
  if (tools.length) body.tools = tools;
  const { id } = await api.post("/realtime_sessions", body, { signal });
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

/** The "Actions for this call" control: the session's `tools` as JSON, empty by default. */
function actionsBox() {
  const id = uid("call-tools");
  const textarea = h("textarea", {
    id,
    class: "code-input",
    rows: 6,
    spellcheck: "false",
    placeholder: TOOLS_PLACEHOLDER,
    "aria-describedby": `${id}-hint`,
  });
  const slot = h("div", { class: "field-message" });
  const fill = pageActionsButton(textarea, slot);
  const element = h(
    "fieldset",
    { class: "fieldset call-actions" },
    h("legend", {}, h("label", { for: id }, "Actions for this call")),
    h(
      "p",
      { class: "hint", id: `${id}-hint` },
      "Actions are set per session by your server: ",
      h("code", {}, "tools"),
      " of ",
      h("code", {}, "POST /v1/realtime_sessions"),
      " (see docs/actions.md). Put that JSON array here to try them in this call; leave it empty for none. Page actions (",
      h("code", {}, "click"),
      ", ",
      h("code", {}, "scroll_to"),
      ", ",
      h("code", {}, "highlight"),
      ") act on the page that holds the call.",
    ),
    textarea,
    slot,
    h("div", { class: "button-row" }, fill),
  );
  return {
    element,
    /** The tools to send; shows the problem and throws when the box does not hold an array. */
    read() {
      showIn(slot, null);
      textarea.removeAttribute("aria-invalid");
      try {
        return parseTools(textarea.value);
      } catch (error) {
        this.refuse(error.message);
        throw error;
      }
    },
    refuse(text) {
      showIn(slot, text, { title: "These actions cannot be used." });
      textarea.setAttribute("aria-invalid", "true");
      textarea.focus();
    },
    lock(locked) {
      textarea.readOnly = locked;
      fill.disabled = locked;
    },
  };
}

/** The live transcript line of one action: "Action: highlight {"target":"hours"}". */
function actionLine({ id, tool, args }) {
  return h(
    "li",
    { class: "turn action", dataset: { key: `action-${id}` } },
    h("p", { class: "tool" }, h("span", { class: "who" }, "Action:"), " ", h("code", {}, `${tool} ${JSON.stringify(args ?? {})}`), h("span", { class: "result" })),
  );
}

/** What an action gave, after its line: a backend's answer or an error (a client event's acknowledgement is not shown). */
function resultText(detail) {
  if (detail.error) return ` failed: ${detail.error}`;
  if (detail.result?.status === "event_sent") return "";
  return detail.result === undefined ? "" : ` → ${JSON.stringify(detail.result)}`;
}

export function callPanel(ctx, avatar) {
  const status = h("p", { class: "call-status", role: "status" }, "Talk to the character with your microphone.");
  const errors = h("div", {});
  const start = h("button", { type: "button", class: "button primary" }, "Start test call");
  const stage = h("div", { class: "call-stage" });
  const transcript = h("ol", { class: "transcript live", "aria-live": "polite", "aria-label": "Live transcript" });
  const after = h("div", {});
  const actions = actionsBox();

  let widget = null;
  let session = null; // {id, consumed}

  function setState(state) {
    status.textContent = STATE_TEXT[state] || state;
    start.hidden = ["connecting", "active", "ending"].includes(state);
    start.disabled = false;
    start.textContent = state === "ended" || state === "error" ? "Start another test call" : "Start test call";
    status.dataset.state = state;
    actions.lock(["connecting", "active", "ending"].includes(state));
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
    let tools;
    try {
      tools = actions.read();
    } catch {
      status.textContent = "The test call could not start: check its actions.";
      return;
    }
    transcript.replaceChildren();
    start.disabled = true;
    actions.lock(true);
    try {
      status.textContent = "Loading the call widget…";
      await loadWidget();
      status.textContent = "Creating a session…";
      const ready = await readySession(avatar.id, tools, ctx.signal, (text, id) => {
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
      widget.addEventListener("toolcall", (event) => transcript.append(actionLine(event.detail)));
      widget.addEventListener("toolresult", (event) => {
        const line = transcript.querySelector(`[data-key="action-${CSS.escape(String(event.detail.id))}"] .result`);
        if (line) line.textContent = resultText(event.detail);
      });
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
      if (refusesTools(error)) actions.refuse(`The server refused them: ${describe(error)}`);
      else showIn(errors, describe(error), { title: "The test call could not start." });
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
    actions.element,
    status,
    errors,
    h("div", { class: "button-row" }, start),
    stage,
    transcript,
    after,
  );
}
