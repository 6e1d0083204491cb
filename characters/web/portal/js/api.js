// The portal's only way to the server: /v1 with the API key of this tab and the version header.
//
// The key lives in sessionStorage (this tab only, gone when the tab closes), never in a cookie.
// Every failure becomes an ApiError whose message is fit to show: the server's own `error` text
// when it sent one, otherwise a sentence saying what happened.

export const API_VERSION = "2024-11-06";
const KEY = "characters.apiKey";

export class ApiError extends Error {
  constructor(message, status, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.issues = Array.isArray(body?.issues) ? body.issues : [];
  }

  /** The path of the first issue, e.g. ["faceKeypoints", "chin"], or []. */
  get path() {
    return this.issues[0]?.path || [];
  }
}

export const auth = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

let unauthorized = () => {};

/** Called (once per failing request) when the server refuses the stored key. */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

const UNREACHABLE =
  "The server could not be reached. Check your connection and that the server is running, then try again.";

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const status = response.status;
  let text = body && typeof body.error === "string" && body.error ? body.error : "";
  if (!text) {
    text =
      status >= 500
        ? `The server had a problem (${status}). Try again; if it keeps happening, the server log has the details.`
        : `The server refused the request (${status}${response.statusText ? ` ${response.statusText}` : ""}).`;
  }
  if (status === 429) {
    const after = response.headers.get("retry-after");
    if (after) text += ` Try again in ${after} s.`;
  }
  return new ApiError(text, status, body);
}

/**
 * One API call. path is below /v1 ("/avatars"). Options: body (JSON), query (object),
 * signal, expect ("json" | "blob" | "none"), authorization (overrides the API key, e.g. a
 * session key), keepSession (a 401 here does not mean the API key is wrong).
 */
export async function request(method, path, options = {}) {
  const { body, query, signal, expect = "json", authorization, keepSession = false } = options;
  const url = new URL(`/v1${path}`, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = {
    Authorization: authorization || `Bearer ${auth.key || ""}`,
    "X-Runway-Version": API_VERSION,
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(UNREACHABLE, 0);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && !authorization && !keepSession) unauthorized(error);
    throw error;
  }
  if (response.status === 204 || expect === "none") return null;
  if (expect === "blob") return response.blob();
  try {
    return await response.json();
  } catch {
    throw new ApiError(`The server sent an answer the portal could not read (${response.status}).`, response.status);
  }
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options = {}) => request("POST", path, { ...options, body }),
  patch: (path, body, options = {}) => request("PATCH", path, { ...options, body }),
  delete: (path, options) => request("DELETE", path, { ...options, expect: "none" }),
};

/** Every item of a cursor-paginated list (bounded: at most `max` items). */
export async function listAll(path, { query = {}, signal, max = 500 } = {}) {
  const items = [];
  let cursor;
  do {
    const page = await api.get(path, { query: { ...query, limit: 100, cursor }, signal });
    items.push(...page.data);
    cursor = page.hasMore ? page.nextCursor : null;
  } while (cursor && items.length < max);
  return items;
}

/**
 * Upload a file as an ephemeral upload: POST /v1/uploads, then the multipart POST of its
 * fields and the file to the returned uploadUrl. Resolves to the runway:// URI.
 */
export async function uploadFile(file, filename, { signal } = {}) {
  const upload = await api.post("/uploads", { filename, type: "ephemeral" }, { signal });
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file, filename);
  let response;
  try {
    response = await fetch(upload.uploadUrl, { method: "POST", body: form, signal, credentials: "omit" });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(UNREACHABLE, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return upload.runwayUri;
}

/** Exchange a READY session's key for its one-time call credentials ({url, token, roomName}). */
export function consumeSession(sessionId, sessionKey, { signal } = {}) {
  return request("POST", `/realtime_sessions/${sessionId}/consume`, {
    authorization: `Bearer ${sessionKey}`,
    signal,
  });
}

/** A blob: URL for an authenticated binary resource (e.g. a voice preview WAV). */
export async function blobUrl(path, { signal } = {}) {
  const blob = await request("GET", path, { expect: "blob", signal });
  return URL.createObjectURL(blob);
}
