// Sessions: every conversation (GET /v1/avatar_conversations) with its session's state
// (GET /v1/realtime_sessions/{id}), and one conversation's transcript next to its recording.

import { api } from "./api.js";
import { creditRate, creditsFor } from "./config.js";
import {
  badge,
  confirmDialog,
  describe,
  focusHeading,
  formatClock,
  formatDate,
  formatDuration,
  h,
  loading,
  message,
  showIn,
  sleep,
} from "./dom.js";

const PAGE = 20;

async function credits(duration) {
  const n = await creditsFor(duration);
  return n === null ? "—" : `≈ ${n}`;
}

/** The session's own state (COMPLETED, CANCELLED, RUNNING, …), or the conversation's. */
async function sessionState(id, signal) {
  try {
    return (await api.get(`/realtime_sessions/${id}`, { signal })).status;
  } catch {
    return null;
  }
}

export async function sessionList(ctx) {
  ctx.title("Sessions");
  const body = h("div", {}, loading("Loading sessions…"));
  ctx.main.append(
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Sessions"), h("p", { class: "lead" }, "Every call with your characters: its state, length and cost, transcript and recording.")),
    ),
    body,
  );
  focusHeading();

  const rate = await creditRate();
  const rows = h("tbody", {});
  const more = h("button", { type: "button", class: "button secondary", hidden: true }, "Load more");
  const slot = h("div", {});
  let cursor = null;

  async function load() {
    more.disabled = true;
    let page;
    try {
      page = await api.get("/avatar_conversations", { query: { limit: PAGE, cursor }, signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted) return;
      showIn(slot, describe(error), { title: "Sessions could not be loaded." });
      more.disabled = false;
      return;
    }
    if (!cursor && !page.data.length) {
      body.replaceChildren(
        h("div", { class: "empty" }, h("p", {}, "No sessions yet. Start a test call from a character's page, or connect from your app.")),
      );
      return;
    }
    const states = await Promise.all(page.data.map((c) => sessionState(c.id, ctx.signal)));
    const costs = await Promise.all(page.data.map((c) => credits(c.duration)));
    page.data.forEach((c, i) => {
      rows.append(
        h(
          "tr",
          { dataset: { id: c.id } },
          h("th", { scope: "row" }, h("a", { href: `#/sessions/${c.id}` }, c.avatar?.name || "Unknown character"), h("span", { class: "muted block" }, formatDate(c.createdAt))),
          h("td", {}, badge(states[i] || c.status)),
          h("td", {}, formatDuration(c.duration)),
          h("td", {}, costs[i]),
        ),
      );
    });
    cursor = page.hasMore ? page.nextCursor : null;
    more.hidden = !cursor;
    more.disabled = false;
  }
  more.addEventListener("click", load);
  body.replaceChildren(
    slot,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table sessions-table" },
        h("caption", { class: "visually-hidden" }, "Sessions, newest first"),
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "Character and start"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Duration"), h("th", { scope: "col" }, h("abbr", { title: `Estimated from the duration: ${rate}` }, "Credits"))),
        ),
        rows,
      ),
    ),
    more,
  );
  await load();
}

function transcriptList(conversation, video) {
  const started = conversation.startedAt ? new Date(conversation.startedAt).getTime() : null;
  const name = conversation.avatar?.name || "Character";
  if (!conversation.transcript.length) return h("p", { class: "muted" }, "Nothing was said in this session.");
  return h(
    "ol",
    { class: "transcript" },
    conversation.transcript.map((entry) => {
      const at = entry.timestamp ? new Date(entry.timestamp).getTime() : null;
      const offset = started !== null && at !== null ? Math.max(0, (at - started) / 1000) : null;
      const time =
        offset === null
          ? null
          : video
            ? h(
                "button",
                {
                  type: "button",
                  class: "time",
                  title: "Play the recording from here",
                  "aria-label": `Play the recording from ${formatClock(offset)}`,
                  onclick: () => {
                    video.currentTime = offset;
                    video.play().catch(() => {});
                  },
                },
                formatClock(offset),
              )
            : h("span", { class: "time" }, formatClock(offset));
      const tools = (entry.toolCalls || []).map((call) => h("p", { class: "tool" }, `Action: ${call.name}`));
      return h(
        "li",
        { class: `turn ${entry.role}` },
        h("span", { class: "who" }, entry.role === "user" ? "User" : name),
        time,
        h("p", {}, entry.content ?? h("span", { class: "muted" }, "(no words)")),
        tools,
      );
    }),
  );
}

function recordingBlock(conversation) {
  if (conversation.recordingUrl) {
    const video = h("video", {
      controls: true,
      preload: "metadata",
      src: conversation.recordingUrl,
      class: "recording",
      "aria-label": "Recording of the session",
    });
    const slot = h("div", {});
    video.addEventListener("error", () =>
      showIn(slot, "The recording could not be played. Its link may have expired: reload the page for a new one.", { kind: "warning" }),
    );
    return { element: h("div", {}, video, slot, h("p", { class: "hint" }, "Links to recordings expire after 24 hours; this page always fetches a fresh one.")), video };
  }
  const why =
    conversation.status === "in_progress"
      ? "The recording is ready when the session ends."
      : conversation.startedAt
        ? "No recording was kept for this session (recording is off on this server, or it was deleted)."
        : "This session never connected, so there is nothing to record.";
  return { element: h("p", { class: "muted recording-missing" }, why), video: null };
}

export async function sessionDetail(ctx, id) {
  ctx.main.append(loading("Loading the session…"));
  const [conversation, state, rate] = await Promise.all([
    api.get(`/avatar_conversations/${id}`, { signal: ctx.signal }),
    sessionState(id, ctx.signal),
    creditRate(),
  ]);
  const cost = await credits(conversation.duration);
  const name = conversation.avatar?.name || "Unknown character";
  ctx.title(`Session with ${name}`);
  const recording = recordingBlock(conversation);
  const remove = h("button", { type: "button", class: "button danger-ghost" }, "Delete transcript and recording");
  const pageMessage = h("div", {});
  const failure = h("div", {});
  if (conversation.status === "failed") {
    failure.append(message(`${conversation.failure} (${conversation.failureCode})`, { title: "The session failed." }));
  }
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  ctx.main.replaceChildren(
    h("a", { href: "#/sessions", class: "back" }, "← Sessions"),
    h(
      "div",
      { class: "page-head" },
      h("div", { class: "title-row" }, h("h1", {}, `Session with ${name}`), badge(state || conversation.status)),
      conversation.status === "in_progress" ? h("span", {}) : remove,
    ),
    pageMessage,
    failure,
    h(
      "dl",
      { class: "details inline" },
      row("Character", conversation.avatar?.id ? h("a", { href: `#/characters/${conversation.avatar.id}` }, name) : name),
      row("Started", formatDate(conversation.startedAt || conversation.createdAt)),
      row("Ended", formatDate(conversation.endedAt)),
      row("Duration", formatDuration(conversation.duration)),
      row("Credits", h("span", { title: `Estimated from the duration: ${rate}` }, cost)),
      row("Longest allowed", formatDuration(conversation.maxDuration)),
    ),
    h(
      "div",
      { class: "session-view" },
      h("section", { class: "panel", "aria-labelledby": "recording-title" }, h("h2", { id: "recording-title" }, "Recording"), recording.element),
      h("section", { class: "panel", "aria-labelledby": "transcript-title" }, h("h2", { id: "transcript-title" }, "Transcript"), transcriptList(conversation, recording.video)),
    ),
  );
  focusHeading();
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "Delete this session's transcript and recording?",
      text: "They are deleted for good; the session still counts in your usage. This cannot be undone.",
    });
    if (!ok) return;
    try {
      await api.delete(`/avatar_conversations/${id}`, { signal: ctx.signal });
      ctx.navigate("/sessions");
    } catch (error) {
      showIn(pageMessage, describe(error), { title: "The session could not be deleted." });
    }
  });
  const justEnded = conversation.endedAt && Date.now() - Date.parse(conversation.endedAt) < 120_000;
  if (conversation.status === "in_progress" || (justEnded && conversation.startedAt && !conversation.recordingUrl)) {
    // Refresh while the call runs, and once more when its recording is written (within 2 min).
    try {
      for (let i = 0; i < 100; i += 1) {
        await sleep(3000, ctx.signal);
        const fresh = await api.get(`/avatar_conversations/${id}`, { signal: ctx.signal });
        if (fresh.status !== conversation.status || fresh.transcript.length !== conversation.transcript.length || fresh.recordingUrl) {
          ctx.navigate(`/sessions/${id}`);
          return;
        }
      }
    } catch (error) {
      if (!ctx.signal.aborted) showIn(pageMessage, describe(error), { kind: "warning" });
    }
  }
}
