// The call client of Characters: one live call with a character, from a browser, without any UI.
//
//   import { CallSession } from "https://characters.example.com/widget/client.js";
//   const call = new CallSession({ avatarId, connectUrl: "/connect" });
//   call.addEventListener("transcript", (e) => console.log(e.detail));
//   await call.start();          // asks for the microphone, connects; state "active"
//   video.srcObject = call.stream;
//   await call.end();
//
// Credentials are resolved as Runway's avatars SDK does (first match wins): `credentials`
// ({sessionId, url | serverUrl, token}), then `sessionId` + `sessionKey` (this module calls
// consume), then `connect(avatarId)`, then `connectUrl` (POST {avatarId}; shape A or B). The
// call itself is WHIP (docs/realtime.md): one offer, one answer, DELETE to hang up. No secret
// API key ever belongs in a browser: a session key or consumed credentials only.
//
// Everything is documented in docs/widget.md.

/** The states of a call, in order. */
export const STATES = Object.freeze(["idle", "connecting", "active", "ending", "ended", "error"]);

/** How long each step may take (ms); override per call with the `timeouts` option. */
export const TIMEOUTS = Object.freeze({
  connect: 60_000, // your connect URL (it may create a session and wait until READY)
  consume: 15_000, // POST …/consume
  ice: 5_000, // local ICE gathering; the offer then goes with the candidates found
  offer: 20_000, // POST of the SDP offer (the server answers once the call is set up)
  media: 20_000, // the answer → media connected (ICE and DTLS)
  hangup: 5_000, // DELETE of the call
});

const MAX_TEXT_CHARS = 2000;
const DISCONNECTED_GRACE_MS = 5_000; // "disconnected" is often transient (a Wi-Fi hiccup)

/** The origin (and path prefix) this module was served from: the Characters server. */
export const DEFAULT_BASE_URL = new URL("..", import.meta.url).href.replace(/\/$/, "");

/**
 * A call that could not start or failed. `code` is one of CONSUME_FAILED, CONNECTION_FAILED,
 * MEDIA_PERMISSION_DENIED, MEDIA_DEVICE_ERROR, UNSUPPORTED_BROWSER, SESSION_CREATE_FAILED,
 * SESSION_FAILED, MISSING_CREDENTIALS, NOT_CONNECTED, INVALID_INPUT.
 */
export class CallError extends Error {
  constructor(code, message, { cause, status, failureCode } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "CallError";
    this.code = code;
    if (status !== undefined) this.status = status;
    if (failureCode !== undefined) this.failureCode = failureCode;
  }
}

/**
 * One live call. Events (each a CustomEvent; `detail` in braces):
 * `statechange` {state, previous}, `transcript` {role, turn, text, final},
 * `clientevent` {tool, args}, `toolcall` {turn, id, tool, kind, args} and `toolresult`
 * {turn, id, name, result | error, durationMs} (every action of the character, for a live
 * transcript), `characterstate` {state: listening | thinking | speaking},
 * `session` {status, reason, …} (the server's session messages), `warning` {code, message}
 * (a non-fatal server error: the character apologises and goes on), `media` {stream},
 * `error` {code, message, failureCode?, error}, `end` {reason, status, message}.
 */
export class CallSession extends EventTarget {
  #options;
  #timeouts;
  #state = "idle";
  #abort = new AbortController();
  #pc = null;
  #channel = null;
  #microphone = null;
  #stream = null;
  #callUrl = null;
  #token = null;
  #sessionId = null;
  #muted = false;
  #characterState = null;
  #entries = [];
  #byKey = new Map();
  #serverError = null;
  #finished = false;
  #error = null;
  #ending = null;
  #disconnectTimer = null;
  #onPageHide = () => this.#hangUpOnUnload();

  /**
   * @param {object} options `avatarId`, and one of `credentials`, `sessionId` + `sessionKey`,
   *   `connect` (async (avatarId) => response), `connectUrl`; `baseUrl` (default: where this
   *   module was loaded from), `timeouts` (see TIMEOUTS), `audio` (getUserMedia constraints).
   */
  constructor(options = {}) {
    super();
    this.#options = { ...options };
    this.#timeouts = { ...TIMEOUTS, ...(options.timeouts || {}) };
  }

  /** idle | connecting | active | ending | ended | error */
  get state() {
    return this.#state;
  }

  /** The session's id, once known. */
  get sessionId() {
    return this.#sessionId;
  }

  /** The character's video and voice (a MediaStream, filled as the tracks arrive). */
  get stream() {
    return this.#stream;
  }

  get muted() {
    return this.#muted;
  }

  /** The character's last state: listening, thinking or speaking (null before the first). */
  get characterState() {
    return this.#characterState;
  }

  /** Why the call could not start or failed: {code, message, failureCode?}; else null. */
  get error() {
    return this.#error;
  }

  /** How the call ended: {reason, status, message}; null while it is not over. */
  get ending() {
    return this.#ending;
  }

  /** Every transcript entry so far, in order: {id, role, turn, text, final}. */
  get transcript() {
    return this.#entries.map((e) => ({ ...e }));
  }

  /** Asks for the microphone, gets credentials, joins the call; resolves once media flows. */
  async start() {
    if (this.#state !== "idle") {
      throw new CallError("INVALID_INPUT", `start() was called on a call that is ${this.#state}.`);
    }
    this.#setState("connecting");
    try {
      checkBrowser();
      this.#microphone = await openMicrophone(this.#options.audio);
      if (this.#finished) this.#microphone.getTracks().forEach((t) => t.stop()); // ended meanwhile
      this.#throwIfEnded();
      this.#microphone.getAudioTracks().forEach((t) => (t.enabled = !this.#muted));
      const creds = await resolveCredentials(this.#options, {
        signal: this.#abort.signal,
        timeouts: this.#timeouts,
      });
      this.#throwIfEnded();
      this.#sessionId = creds.sessionId || null;
      await this.#join(creds);
      this.#throwIfEnded();
      this.#setState("active");
      window.addEventListener("pagehide", this.#onPageHide);
    } catch (error) {
      // end() while connecting (it finishes the call), or the server ended it
      if (this.#finished || this.#state === "ending") return;
      const failure =
        error instanceof CallError
          ? error
          : new CallError("CONNECTION_FAILED", `The call could not start: ${error.message}`, {
              cause: error,
            });
      this.#fail(failure, "error");
      throw failure;
    }
  }

  /** Hangs up (END_CALL, then DELETE of the call); resolves once it is over. */
  async end() {
    if (this.#finished || this.#state === "idle") {
      if (this.#state === "idle") this.#finish({ reason: "hangup" }, "ended");
      return;
    }
    this.#setState("ending");
    this.#abort.abort();
    this.#send({ type: "END_CALL" });
    if (this.#callUrl) {
      try {
        await request(
          this.#callUrl,
          { method: "DELETE", headers: { Authorization: `Bearer ${this.#token}` } },
          this.#timeouts.hangup,
        );
      } catch {
        // the server may have ended the call first (404), or be gone: either way it is over
      }
    }
    // A call that never reached the server has no session status to report.
    this.#finish({ reason: "hangup", status: this.#callUrl ? "COMPLETED" : undefined }, "ended");
  }

  /** Mutes or unmutes the microphone (the call goes on; the character hears silence). */
  setMuted(muted) {
    this.#muted = Boolean(muted);
    this.#microphone?.getAudioTracks().forEach((t) => (t.enabled = !this.#muted));
  }

  /** Sends typed text, answered like speech (it cuts the character off if it is speaking). */
  sendText(text) {
    const value = String(text ?? "").trim();
    if (!value) throw new CallError("INVALID_INPUT", "The message is empty.");
    if (value.length > MAX_TEXT_CHARS) {
      throw new CallError("INVALID_INPUT", `A message has at most ${MAX_TEXT_CHARS} characters.`);
    }
    if (this.#state !== "active" || !this.#send({ type: "user_message", text: value })) {
      throw new CallError("NOT_CONNECTED", "The call is not connected.");
    }
  }

  // -- joining ---------------------------------------------------------------------------------

  async #join(creds) {
    this.#token = creds.token;
    const pc = new RTCPeerConnection({ iceServers: creds.iceServers || [] });
    this.#pc = pc;
    this.#stream = new MediaStream();
    pc.addEventListener("track", (event) => {
      this.#stream.addTrack(event.track);
      this.#emit("media", { stream: this.#stream, kind: event.track.kind });
    });
    const [microphone] = this.#microphone.getAudioTracks();
    pc.addTransceiver(microphone, { direction: "sendrecv", streams: [this.#microphone] });
    pc.addTransceiver("video", { direction: "recvonly" });
    const channel = pc.createDataChannel("events");
    this.#channel = channel;
    channel.addEventListener("message", (event) => this.#onMessage(event.data));
    channel.addEventListener("close", () => this.#onChannelClosed());
    pc.addEventListener("connectionstatechange", () => this.#onConnectionState());

    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc, this.#timeouts.ice);
    this.#throwIfEnded();
    const response = await request(
      creds.url,
      {
        method: "POST",
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${creds.token}` },
        body: pc.localDescription.sdp,
        signal: this.#abort.signal,
      },
      this.#timeouts.offer,
      "the call's offer",
    );
    if (response.status !== 201) {
      throw new CallError(
        "CONNECTION_FAILED",
        `The server refused the call: ${response.status} ${errorText(response)}`,
        { status: response.status },
      );
    }
    const location = response.headers.get("location");
    this.#callUrl = location ? new URL(location, creds.url).href : null;
    await pc.setRemoteDescription({ type: "answer", sdp: response.text });
    const linked = parseIceLinks(response.headers.get("link"));
    if (linked.length && !(creds.iceServers || []).length) {
      // Gathering is over (no trickle ICE), so these serve a later ICE restart only: pass
      // consume's `iceServers` along with the credentials to use TURN from the start.
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers: linked });
      } catch {
        // a browser that refuses a configuration change keeps the one it has
      }
    }
    await connected(pc, this.#timeouts.media, this.#abort.signal);
  }

  #onConnectionState() {
    const state = this.#pc?.connectionState;
    clearTimeout(this.#disconnectTimer);
    if (this.#finished || this.#state === "connecting" || this.#state === "ending") return;
    if (state === "failed" || state === "closed") {
      this.#ended();
    } else if (state === "disconnected") {
      this.#disconnectTimer = setTimeout(() => this.#ended(), DISCONNECTED_GRACE_MS);
    }
  }

  #onChannelClosed() {
    if (this.#finished || this.#state !== "active") return;
    // The server closes the peer right after its final `session` message; a close without
    // one is a lost connection (wait a moment for a late message anyway).
    setTimeout(() => this.#ended(), 1_000);
  }

  #ended() {
    if (this.#finished) return;
    this.#finish(
      { reason: "disconnected", message: "The connection to the character was lost." },
      "ended",
    );
  }

  // -- messages --------------------------------------------------------------------------------

  #onMessage(raw) {
    let message;
    try {
      message = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
    } catch {
      return; // not ours
    }
    if (!message || typeof message !== "object") return;
    if (Array.isArray(message.segments) || Array.isArray(message.data?.segments)) return;
    switch (message.type) {
      case "transcription":
        this.#transcription(message);
        break;
      case "user_transcript":
        this.#userHypothesis(message);
        break;
      case "state":
        this.#characterState = message.state;
        if (message.state === "listening") this.#finalise("assistant");
        this.#emit("characterstate", { state: message.state });
        break;
      case "interrupted":
        this.#finalise("assistant", message.turn);
        break;
      case "client_event":
        if (message.args && typeof message.args === "object" && message.args.status !== "event_sent") {
          this.#emit("clientevent", { tool: message.tool, args: message.args });
        }
        break;
      case "tool_call": {
        const { type, ...detail } = message;
        this.#emit("toolcall", detail);
        break;
      }
      case "tool_result": {
        const { type, ...detail } = message;
        this.#emit("toolresult", detail);
        break;
      }
      case "error":
        if (message.fatal) {
          this.#serverError = message;
        } else {
          this.#emit("warning", { code: message.code, message: message.message });
        }
        break;
      case "session":
        this.#session(message);
        break;
      default:
        break;
    }
  }

  #transcription(message) {
    const role = message.role === "user" ? "user" : "assistant";
    const turn = Number.isFinite(message.turn) ? message.turn : 0;
    const entry = this.#entry(role, turn);
    entry.text = (entry.confirmed ? entry.text : "") + String(message.text ?? "");
    entry.confirmed = true;
    if (role === "user") {
      entry.final = true;
      this.#retractAfter(turn);
      this.#finalise("assistant"); // the user's new turn: the last answer is over
    } else {
      // A later answer finalises the earlier ones (as Runway's SDK does).
      for (const other of this.#entries) {
        if (other.role === "assistant" && other.turn < turn && !other.final) {
          other.final = true;
          this.#emitEntry(other);
        }
      }
    }
    this.#emitEntry(entry);
  }

  #userHypothesis(message) {
    const turn = Number.isFinite(message.turn) ? message.turn : 0;
    if (message.final) {
      this.#retractAfter(turn); // words heard as a new turn were the end of this one
      return; // the `transcription` message that follows carries the words
    }
    const entry = this.#entry("user", turn);
    if (entry.confirmed) return;
    entry.text = String(message.text ?? "");
    this.#emitEntry(entry);
  }

  #retractAfter(turn) {
    for (const entry of [...this.#entries]) {
      if (entry.role === "user" && entry.turn > turn && !entry.confirmed) {
        this.#entries.splice(this.#entries.indexOf(entry), 1);
        this.#byKey.delete(entry.id);
        this.#emit("transcript", { role: "user", turn: entry.turn, text: "", final: true });
      }
    }
  }

  #finalise(role, turn) {
    for (const entry of this.#entries) {
      if (entry.role === role && !entry.final && (turn === undefined || entry.turn === turn)) {
        entry.final = true;
        this.#emitEntry(entry);
      }
    }
  }

  #entry(role, turn) {
    const id = `${role}-${turn}`;
    let entry = this.#byKey.get(id);
    if (!entry) {
      entry = { id, role, turn, text: "", final: false, confirmed: false };
      this.#byKey.set(id, entry);
      this.#entries.push(entry);
    }
    return entry;
  }

  #emitEntry(entry) {
    this.#emit("transcript", {
      role: entry.role,
      turn: entry.turn,
      text: entry.text,
      final: entry.final,
    });
  }

  #session(message) {
    this.#emit("session", { ...message });
    const status = message.status;
    if (!["COMPLETED", "CANCELLED", "FAILED"].includes(status)) return;
    const reason = String(message.reason || "");
    if (status === "FAILED") {
      const code = message.failureCode || this.#serverError?.code || "INTERNAL";
      const detail = this.#serverError?.message || reason || "no reason given";
      const error = new CallError("SESSION_FAILED", `The call failed (${code}): ${detail}`, {
        failureCode: code,
      });
      this.#fail(error, "failed", { status, message: reason });
      return;
    }
    let why = "completed";
    if (status === "CANCELLED") why = "cancelled";
    else if (reason.startsWith("maxDuration")) why = "max-duration";
    else if (this.#state === "ending" || /by the client/.test(reason)) why = "hangup";
    this.#finish({ reason: why, status, message: reason }, "ended");
  }

  // -- the end ---------------------------------------------------------------------------------

  #fail(error, reason, extra = {}) {
    this.#error = { code: error.code, message: error.message, failureCode: error.failureCode };
    this.#emit("error", {
      code: error.code,
      message: error.message,
      failureCode: error.failureCode,
      error,
    });
    this.#finish({ reason, status: extra.status, message: extra.message ?? error.message }, "error");
  }

  #finish(detail, state) {
    if (this.#finished) return;
    this.#finished = true;
    this.#abort.abort();
    clearTimeout(this.#disconnectTimer);
    window.removeEventListener("pagehide", this.#onPageHide);
    this.#finalise("assistant");
    try {
      this.#channel?.close();
      this.#pc?.close();
    } catch {
      // closing twice is harmless
    }
    this.#microphone?.getTracks().forEach((t) => t.stop());
    this.#ending = { reason: detail.reason, status: detail.status, message: detail.message };
    this.#setState(state);
    this.#emit("end", { ...this.#ending });
  }

  #hangUpOnUnload() {
    this.#send({ type: "END_CALL" });
    if (this.#callUrl) {
      fetch(this.#callUrl, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${this.#token}` },
        keepalive: true,
      }).catch(() => {});
    }
  }

  #throwIfEnded() {
    if (this.#finished) throw new CallError("CONNECTION_FAILED", "The call was ended.");
  }

  #send(message) {
    if (this.#channel?.readyState !== "open") return false;
    this.#channel.send(JSON.stringify(message));
    return true;
  }

  #setState(state) {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    this.#emit("statechange", { state, previous });
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// -- credentials ---------------------------------------------------------------------------------

/**
 * Resolves call credentials {sessionId, url, token, roomName?, iceServers?} from the options,
 * as Runway's SDK does (first match wins; see the module comment).
 */
export async function resolveCredentials(options, { signal, timeouts = TIMEOUTS } = {}) {
  const baseUrl = (options.baseUrl || DEFAULT_BASE_URL).replace(/\/+$/, "");
  if (options.credentials) return fromShapeA(options.credentials, baseUrl);
  if (options.sessionId && options.sessionKey) {
    return consume(baseUrl, options.sessionId, options.sessionKey, { signal, timeouts });
  }
  let response;
  if (typeof options.connect === "function") {
    try {
      response = await withTimeout(options.connect(options.avatarId), timeouts.connect, "connect()");
    } catch (error) {
      throw new CallError("SESSION_CREATE_FAILED", `Failed to connect: ${error.message}`, {
        cause: error,
      });
    }
  } else if (options.connectUrl) {
    response = await connectUrl(options.connectUrl, options.avatarId, { signal, timeouts });
  } else {
    throw new CallError(
      "MISSING_CREDENTIALS",
      "A call needs one of: credentials, a session id and session key, connect(), or a connect URL.",
    );
  }
  if (response && typeof response === "object" && ("serverUrl" in response || "url" in response)) {
    return fromShapeA(response, baseUrl);
  }
  if (response && typeof response.sessionId === "string" && typeof response.sessionKey === "string") {
    return consume(baseUrl, response.sessionId, response.sessionKey, { signal, timeouts });
  }
  throw new CallError(
    "SESSION_CREATE_FAILED",
    "The connect endpoint answered with neither {sessionId, serverUrl, token} nor {sessionId, sessionKey}.",
  );
}

function fromShapeA(creds, baseUrl) {
  const url = creds.serverUrl || creds.url;
  if (typeof url !== "string" || typeof creds.token !== "string") {
    throw new CallError("MISSING_CREDENTIALS", "Credentials need a url (or serverUrl) and a token.");
  }
  return {
    sessionId: creds.sessionId || creds.roomName || null,
    url: new URL(url, baseUrl + "/").href,
    token: creds.token,
    roomName: creds.roomName || null,
    iceServers: Array.isArray(creds.iceServers) ? creds.iceServers : [],
  };
}

async function connectUrl(url, avatarId, { signal, timeouts }) {
  let response;
  try {
    response = await request(
      url,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ avatarId }),
        signal,
      },
      timeouts.connect,
      "the connect URL",
    );
  } catch (error) {
    throw new CallError("SESSION_CREATE_FAILED", `Failed to connect: ${error.message}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    throw new CallError(
      "SESSION_CREATE_FAILED",
      `Failed to connect: ${response.status} ${errorText(response)}`,
      { status: response.status },
    );
  }
  try {
    return JSON.parse(response.text);
  } catch (error) {
    throw new CallError("SESSION_CREATE_FAILED", "Failed to connect: the answer is not JSON.", {
      cause: error,
    });
  }
}

async function consume(baseUrl, sessionId, sessionKey, { signal, timeouts }) {
  const url = `${baseUrl}/v1/realtime_sessions/${encodeURIComponent(sessionId)}/consume`;
  let response;
  try {
    response = await request(
      url,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionKey}` },
        signal,
      },
      timeouts.consume,
      "consume",
    );
  } catch (error) {
    throw new CallError("CONSUME_FAILED", `Failed to consume session: ${error.message}`, {
      cause: error,
    });
  }
  if (!response.ok) {
    throw new CallError(
      "CONSUME_FAILED",
      `Failed to consume session: ${response.status} ${errorText(response)}`,
      { status: response.status },
    );
  }
  let body;
  try {
    body = JSON.parse(response.text);
  } catch (error) {
    throw new CallError("CONSUME_FAILED", "Failed to consume session: the answer is not JSON.", {
      cause: error,
    });
  }
  return fromShapeA({ ...body, sessionId }, baseUrl);
}

// -- the browser ---------------------------------------------------------------------------------

function checkBrowser() {
  if (typeof window.RTCPeerConnection !== "function") {
    throw new CallError(
      "UNSUPPORTED_BROWSER",
      "This browser cannot make calls: it has no WebRTC (RTCPeerConnection). Use a recent Chrome, Edge, Firefox or Safari.",
    );
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    const why = window.isSecureContext
      ? "it has no microphone access (getUserMedia)"
      : "the page is not secure: calls need https:// (or localhost)";
    throw new CallError("UNSUPPORTED_BROWSER", `This browser cannot make calls here: ${why}.`);
  }
}

async function openMicrophone(constraints) {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: constraints ?? { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
  } catch (error) {
    if (error?.name === "NotAllowedError" || error?.name === "SecurityError") {
      throw new CallError(
        "MEDIA_PERMISSION_DENIED",
        "Microphone access was denied. Allow the microphone for this site (the icon in the address bar), then start again.",
        { cause: error },
      );
    }
    const what =
      error?.name === "NotFoundError"
        ? "no microphone was found"
        : error?.name === "NotReadableError"
          ? "the microphone is in use by another application or could not be opened"
          : `the microphone could not be opened (${error?.name || "error"}: ${error?.message || error})`;
    throw new CallError("MEDIA_DEVICE_ERROR", `Microphone problem: ${what}.`, { cause: error });
  }
}

function iceGathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => pc.iceGatheringState === "complete" && done();
    const timer = setTimeout(done, ms); // go on with the candidates found so far
    pc.addEventListener("icegatheringstatechange", check);
  });
}

function connected(pc, ms, signal) {
  return new Promise((resolve, reject) => {
    const fail = (message) => {
      cleanup();
      reject(new CallError("CONNECTION_FAILED", message));
    };
    const check = () => {
      if (pc.connectionState === "connected") {
        cleanup();
        resolve();
      } else if (pc.connectionState === "failed" || pc.connectionState === "closed") {
        fail(
          "The media connection failed (ICE/DTLS): the server could not be reached directly; a TURN server may be needed.",
        );
      }
    };
    const abort = () => fail("The call was ended.");
    const timer = setTimeout(
      () => fail(`The media did not connect within ${Math.round(ms / 1000)} s (ICE/DTLS).`),
      ms,
    );
    const cleanup = () => {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      signal?.removeEventListener("abort", abort);
    };
    pc.addEventListener("connectionstatechange", check);
    signal?.addEventListener("abort", abort);
    check();
  });
}

// -- HTTP ----------------------------------------------------------------------------------------

/** fetch() with a timeout that covers the body too: {ok, status, headers, text}. */
async function request(url, init, ms, what = url) {
  const controller = new AbortController();
  const outer = init.signal;
  const abort = () => controller.abort();
  outer?.addEventListener("abort", abort);
  if (outer?.aborted) controller.abort();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, ms);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    const text = await response.text();
    return { ok: response.ok, status: response.status, headers: response.headers, text };
  } catch (error) {
    if (timedOut) throw new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`);
    if (controller.signal.aborted) throw new Error("the call was ended");
    throw new Error(`${what} could not be reached (${error.message})`);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", abort);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve(promise),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The API's `{"error": "…"}`, or the start of the body. */
function errorText(response) {
  try {
    const body = JSON.parse(response.text);
    if (typeof body?.error === "string") return body.error;
    if (typeof body?.detail === "string") return body.detail;
    if (typeof body?.message === "string") return body.message;
  } catch {
    // not JSON
  }
  return response.text.trim().slice(0, 300) || "(no body)";
}

/** `Link: <turn:…>; rel="ice-server"; username="…"; credential="…"` (RFC 9725) → iceServers. */
export function parseIceLinks(header) {
  if (!header) return [];
  const servers = [];
  for (const match of header.matchAll(/<([^>]+)>((?:\s*;\s*[\w-]+\s*=\s*(?:"[^"]*"|[^;,]*))*)/g)) {
    const params = {};
    for (const p of match[2].matchAll(/;\s*([\w-]+)\s*=\s*(?:"([^"]*)"|([^;,]*))/g)) {
      params[p[1].toLowerCase()] = p[2] ?? p[3].trim();
    }
    if (params.rel !== "ice-server") continue;
    const server = { urls: match[1] };
    if (params.username) server.username = params.username;
    if (params.credential) server.credential = params.credential;
    servers.push(server);
  }
  return servers;
}

// -- page actions ----------------------------------------------------------------------------------

/** The client_event tools that act on the host page (Runway's page actions). */
export const PAGE_ACTIONS = Object.freeze(["click", "scroll_to", "highlight"]);

/** How long `highlight` marks an element when the call gives no `duration` (ms). */
export const HIGHLIGHT_MS = 2000;

const HIGHLIGHT_ATTRIBUTE = "data-avatar-highlighted";
const highlightTimers = new WeakMap();

function normalTarget(value) {
  return String(value).trim().replace(/^#/, "").toLowerCase().replace(/[\s_-]+/g, "-");
}

/**
 * The element a page action names: the element with that id, else the one whose
 * `data-avatar-target` is that value (as Runway's SDK finds them); failing both, the same
 * ignoring a leading "#", case, and "-" / "_" / spaces (small models write "#buy_tickets" for
 * "buy-tickets"). `null` when there is none.
 */
export function findTarget(target, root = document) {
  if (typeof target !== "string" || !target.trim()) return null;
  const exact =
    root.getElementById?.(target) ??
    root.querySelector(`[data-avatar-target="${CSS.escape(target)}"]`);
  if (exact) return exact;
  const wanted = normalTarget(target);
  for (const element of root.querySelectorAll("[id], [data-avatar-target]")) {
    if (
      (element.id && normalTarget(element.id) === wanted) ||
      (element.dataset.avatarTarget && normalTarget(element.dataset.avatarTarget) === wanted)
    ) {
      return element;
    }
  }
  return null;
}

/**
 * Performs a page action (`click`, `scroll_to`, `highlight`) on the host page; returns the
 * element it acted on, or `null` (an unknown tool, or no such element). `highlight` sets the
 * `data-avatar-highlighted` attribute for `args.duration` ms (style it in your page; the
 * widget adds a default outline) and scrolls the element into view.
 */
export function performPageAction(tool, args = {}, { root = document, highlightMs = HIGHLIGHT_MS } = {}) {
  if (!PAGE_ACTIONS.includes(tool)) return null;
  const element = findTarget(args?.target, root);
  if (!element) return null;
  if (tool === "click") {
    if (typeof element.click === "function") element.click();
  } else if (tool === "scroll_to") {
    element.scrollIntoView({ behavior: "smooth", block: "start" });
  } else {
    const requested = Number(args?.duration);
    const ms = Number.isFinite(requested) && requested > 0 ? Math.min(requested, 60_000) : highlightMs;
    clearTimeout(highlightTimers.get(element));
    element.setAttribute(HIGHLIGHT_ATTRIBUTE, "true");
    element.scrollIntoView({ behavior: "smooth", block: "nearest" });
    highlightTimers.set(
      element,
      setTimeout(() => {
        element.removeAttribute(HIGHLIGHT_ATTRIBUTE);
        highlightTimers.delete(element);
      }, ms),
    );
  }
  return element;
}
