// Characters (avatars): the list, the create/edit form, and a character's page (processing
// progress, face landmarks, details, test call, recent sessions).

import { api, listAll, uploadFile } from "./api.js";
import { callPanel } from "./call.js";
import {
  badge,
  confirmDialog,
  describe,
  focusHeading,
  formatDate,
  formatDuration,
  h,
  loading,
  message,
  showIn,
  sleep,
} from "./dom.js";
import { facePanel } from "./face.js";
import { checkImage, imageLimits, rememberImageSize, uploadName } from "./images.js";
import { knowledgePicker, MAX_DOCUMENTS } from "./knowledge.js";
import { pageActionsButton, parseTools, refusesTools, TOOLS_PLACEHOLDER, toolsRows, toolsText } from "./tools.js";
import { voicePicker } from "./voices.js";

const POLL_MS = 1500;
const AVATAR_ENDPOINT = "POST /v1/avatars";
/** What a server refusal shown under a field starts with. */
const REFUSED = {
  referenceImage: "The server refused the image: ",
  tools: "The server refused these actions: ",
  backendRpcUrl: "The server refused this URL: ",
};

function avatarImage(avatar, className) {
  if (avatar.referenceImageUri) {
    return h("img", { class: className, src: avatar.referenceImageUri, alt: "", loading: "lazy" });
  }
  return h("div", { class: `${className} placeholder`, "aria-hidden": "true" }, (avatar.name || "?").slice(0, 1).toUpperCase());
}

/** Poll fn every POLL_MS while it returns true, until the screen is left. */
async function pollWhile(ctx, fn) {
  try {
    for (;;) {
      await sleep(POLL_MS, ctx.signal);
      if (!(await fn())) return;
    }
  } catch (error) {
    if (!ctx.signal.aborted) throw error;
  }
}

// The list

export async function characterList(ctx) {
  ctx.title("Characters");
  const body = h("div", {}, loading("Loading your characters…"));
  ctx.main.append(
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Characters"), h("p", { class: "lead" }, "Conversational video characters of your organisation.")),
      h("a", { class: "button primary", href: "#/characters/new" }, "New character"),
    ),
    body,
  );
  focusHeading();

  let avatars;
  try {
    avatars = await listAll("/avatars", { signal: ctx.signal });
  } catch (error) {
    if (ctx.signal.aborted) return;
    body.replaceChildren(message(describe(error), { title: "Your characters could not be loaded." }));
    return;
  }
  const render = () => {
    if (!avatars.length) {
      body.replaceChildren(
        h(
          "div",
          { class: "empty" },
          h("p", {}, "No characters yet."),
          h("a", { class: "button primary", href: "#/characters/new" }, "Create your first character"),
        ),
      );
      return;
    }
    body.replaceChildren(
      h(
        "ul",
        { class: "card-grid", "aria-label": "Characters" },
        avatars.map((a) =>
          h(
            "li",
            { class: "card character-card", dataset: { id: a.id, status: a.status } },
            h(
              "a",
              { href: `#/characters/${a.id}`, class: "card-link" },
              avatarImage(a, "card-image"),
              h("span", { class: "card-body" }, h("span", { class: "card-title" }, a.name), badge(a.status), h("span", { class: "muted" }, `Voice: ${a.voice.name || a.voice.presetId || "custom"}`)),
            ),
          ),
        ),
      ),
    );
  };
  render();
  await pollWhile(ctx, async () => {
    if (!avatars.some((a) => a.status === "PROCESSING")) return false;
    avatars = await listAll("/avatars", { signal: ctx.signal });
    render();
    return true;
  });
}

// The form

function field(id, label, control, { hint = null, counter = null } = {}) {
  const messageSlot = h("div", { class: "field-message", id: `${id}-message` });
  const described = [hint ? `${id}-hint` : null, `${id}-message`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return {
    element: h(
      "div",
      { class: "field" },
      h("label", { for: id }, label),
      hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
      control,
      counter,
      messageSlot,
    ),
    messageSlot,
    control,
  };
}

function charCounter(textarea, max) {
  const out = h("p", { class: "counter", "aria-live": "off" });
  const update = () => {
    out.textContent = `${textarea.value.length} / ${max} characters`;
  };
  textarea.addEventListener("input", update);
  update();
  return out;
}

export async function characterForm(ctx, avatarId) {
  const editing = Boolean(avatarId);
  ctx.title(editing ? "Edit character" : "New character");
  ctx.main.append(loading("Loading…"));
  const [avatar, limits] = await Promise.all([
    editing ? api.get(`/avatars/${avatarId}`, { signal: ctx.signal }) : null,
    imageLimits(),
  ]);
  const [voice, knowledge] = await Promise.all([
    voicePicker(ctx, avatar?.voice?.presetId),
    knowledgePicker(ctx, avatar?.documentIds),
  ]);
  ctx.main.replaceChildren();

  const name = field("name", "Name", h("input", { id: "name", name: "name", required: true, maxlength: 50, autocomplete: "off", value: avatar?.name || "" }));
  const personality = h("textarea", { id: "personality", name: "personality", rows: 6, required: true, maxlength: 10000 }, avatar?.personality || "");
  const personalityField = field("personality", "Personality", personality, {
    hint: "Who the character is and how it speaks: its role, its manner, what it knows and what it avoids.",
    counter: charCounter(personality, 10000),
  });
  const script = h("textarea", { id: "start-script", name: "startScript", rows: 3, maxlength: 2000 }, avatar?.startScript || "");
  const scriptField = field("start-script", "Starting script (optional)", script, {
    hint: "What the character says when a call starts. Leave it empty to let the user speak first.",
    counter: charCounter(script, 2000),
  });

  // The reference image: checked here with the server's limits, previewed before sending.
  const mb = limits.maxImageBytes / (1024 * 1024);
  const fileInput = h("input", { id: "image", name: "image", type: "file", accept: "image/jpeg,image/png,image/webp", required: !editing });
  const image = field("image", editing ? "New reference image (optional)" : "Reference image", fileInput, {
    hint: `JPEG, PNG or WebP, at most ${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB and at least ${limits.minImageSide} pixels on each side, with one clear, front-facing face. For a drawn character the detector misses, you place the face points by hand after processing.`,
  });
  const preview = h("div", { class: "image-preview", hidden: true });
  image.element.insertBefore(preview, image.messageSlot);
  let chosen = null; // {file, width, height, url}
  if (editing && avatar.referenceImageUri) {
    preview.hidden = false;
    preview.replaceChildren(h("img", { src: avatar.referenceImageUri, alt: "The current reference image" }), h("p", { class: "muted" }, "Current image"));
  }
  fileInput.addEventListener("change", async () => {
    showIn(image.messageSlot, null);
    fileInput.removeAttribute("aria-invalid");
    if (chosen) URL.revokeObjectURL(chosen.url);
    chosen = null;
    const file = fileInput.files[0];
    if (!file) return;
    const checked = await checkImage(file);
    if (!checked.ok) {
      showIn(image.messageSlot, checked.message);
      fileInput.setAttribute("aria-invalid", "true");
      fileInput.value = "";
      preview.hidden = true;
      return;
    }
    chosen = { file, ...checked };
    preview.hidden = false;
    preview.replaceChildren(
      h("img", { src: checked.url, alt: `Preview of ${file.name}` }),
      h("p", { class: "muted" }, `${file.name} · ${checked.width} × ${checked.height} pixels`),
    );
  });
  ctx.onCleanup(() => chosen && URL.revokeObjectURL(chosen.url));

  // The avatar's own actions (an API extension: tools and backendRpcUrl on the avatar).
  const initialTools = toolsText(avatar?.tools);
  const initialUrl = avatar?.backendRpcUrl || "";
  const toolsBox = h(
    "textarea",
    { id: "avatar-tools", name: "tools", class: "code-input", rows: toolsRows(initialTools), spellcheck: "false", placeholder: TOOLS_PLACEHOLDER },
    initialTools,
  );
  const toolsField = field("avatar-tools", "Actions of this character (optional)", toolsBox, {
    hint: [
      "Tools every session of this character has, as a JSON array in the shape of ",
      h("code", {}, "tools"),
      " of ",
      h("code", {}, "POST /v1/realtime_sessions"),
      " (client_event or backend_rpc; see docs/actions.md). A session's own tool of the same name replaces one. Leave it empty for none; your server can still give actions per call, and you can try them in the test call.",
    ],
  });
  toolsField.element.append(h("div", { class: "button-row" }, pageActionsButton(toolsBox, toolsField.messageSlot)));
  const rpcInput = h("input", { id: "backend-rpc-url", name: "backendRpcUrl", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false", placeholder: "https://example.com/characters/rpc", value: initialUrl });
  const rpcField = field("backend-rpc-url", "Backend RPC URL (optional)", rpcInput, {
    hint: [
      "Where this character's ",
      h("code", {}, "backend_rpc"),
      " calls are sent (signed, https:// only), instead of the organisation's. Leave it empty to use the organisation's.",
    ],
  });
  const actions = h("fieldset", { class: "fieldset avatar-actions" }, h("legend", {}, "Actions"), toolsField.element, rpcField.element);

  const formMessage = h("div", { class: "form-message" });
  const submit = h("button", { type: "submit", class: "button primary" }, editing ? "Save changes" : "Create character");
  const cancel = h("a", { class: "button ghost", href: editing ? `#/characters/${avatarId}` : "#/characters" }, "Cancel");
  const form = h(
    "form",
    { class: "form", novalidate: true, "aria-labelledby": "form-title" },
    formMessage,
    h("div", { class: "form-grid" }, h("div", {}, name.element, image.element), h("div", {}, voice.element, personalityField.element, scriptField.element)),
    knowledge.element,
    actions,
    h("div", { class: "button-row form-actions" }, submit, cancel),
  );
  ctx.main.append(
    editing ? h("a", { href: `#/characters/${avatarId}`, class: "back" }, `← ${avatar.name}`) : h("a", { href: "#/characters", class: "back" }, "← Characters"),
    h("h1", { id: "form-title" }, editing ? `Edit ${avatar.name}` : "New character"),
    form,
  );
  focusHeading();

  const slots = {
    name: [name.messageSlot, name.control],
    referenceImage: [image.messageSlot, fileInput],
    personality: [personalityField.messageSlot, personality],
    startScript: [scriptField.messageSlot, script],
    voice: [voice.messageSlot, voice.select],
    documentIds: [knowledge.messageSlot, null],
    tools: [toolsField.messageSlot, toolsBox],
    backendRpcUrl: [rpcField.messageSlot, rpcInput],
  };

  function fieldError(key, text) {
    const [slot, control] = slots[key];
    showIn(slot, text);
    control?.setAttribute("aria-invalid", "true");
    return control;
  }

  // A field's message goes once the user changes that field (the form's summary stays until
  // the next save): it would otherwise still refuse a value that is no longer there.
  for (const [slot, control] of Object.values(slots)) {
    control?.addEventListener("input", () => {
      if (control.getAttribute("aria-invalid") !== "true") return;
      showIn(slot, null);
      control.removeAttribute("aria-invalid");
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const [slot, control] of Object.values(slots)) {
      showIn(slot, null);
      control?.removeAttribute("aria-invalid");
    }
    showIn(formMessage, null);
    const problems = [];
    if (!name.control.value.trim()) problems.push(fieldError("name", "Give the character a name."));
    if (!editing && !chosen) problems.push(fieldError("referenceImage", "Choose a reference image."));
    if (!personality.value.trim()) problems.push(fieldError("personality", "Describe the character's personality."));
    const documentIds = knowledge.value();
    if (documentIds.length > MAX_DOCUMENTS) problems.push(fieldError("documentIds", `Choose at most ${MAX_DOCUMENTS} documents.`));
    let tools = [];
    try {
      tools = parseTools(toolsBox.value, { endpoint: AVATAR_ENDPOINT });
    } catch (error) {
      problems.push(fieldError("tools", error.message));
    }
    if (problems.length) {
      showIn(formMessage, "Some fields need attention: see the messages below.", { title: "The character was not saved." });
      problems[0]?.focus();
      return;
    }
    const body = {
      name: name.control.value.trim(),
      personality: personality.value.trim(),
      voice: { type: "runway-live-preset", presetId: voice.value() },
      startScript: script.value.trim() || null,
      documentIds,
    };
    if (!editing && !body.startScript) delete body.startScript;
    // Actions are sent when they changed (on create: when there are any); none removes them.
    if (JSON.stringify(tools) !== JSON.stringify(avatar?.tools || [])) body.tools = tools.length ? tools : null;
    const rpcUrl = rpcInput.value.trim();
    if (rpcUrl !== initialUrl) body.backendRpcUrl = rpcUrl || null;
    submit.disabled = true;
    try {
      if (chosen) {
        submit.textContent = "Uploading the image…";
        body.referenceImage = await uploadFile(chosen.file, uploadName(chosen.file), { signal: ctx.signal });
      }
      submit.textContent = editing ? "Saving…" : "Creating…";
      const saved = editing
        ? await api.patch(`/avatars/${avatarId}`, body, { signal: ctx.signal })
        : await api.post("/avatars", body, { signal: ctx.signal });
      if (chosen) rememberImageSize(saved.id, chosen.width, chosen.height);
      ctx.navigate(`/characters/${saved.id}`);
    } catch (error) {
      if (ctx.signal.aborted) return;
      const path = error.path?.[0];
      const key = path in slots ? path : refusesTools(error) ? "tools" : null;
      let focus = null;
      if (key) {
        focus = fieldError(key, `${REFUSED[key] || ""}${describe(error)}`);
      }
      showIn(formMessage, describe(error), { title: editing ? "The changes were not saved." : "The character was not created." });
      const summary = formMessage.querySelector(".alert");
      summary?.setAttribute("tabindex", "-1");
      (focus || summary)?.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = editing ? "Save changes" : "Create character";
    }
  });
}

// A character's page

function processingPanel(avatar, startedAt) {
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  return h(
    "section",
    { class: "panel processing", "aria-labelledby": "processing-title" },
    h("h2", { id: "processing-title" }, "Processing"),
    h("progress", { "aria-labelledby": "processing-title", class: "indeterminate" }),
    h(
      "p",
      { role: "status" },
      "Preparing the image and finding the face. This usually takes a few seconds",
      seconds >= 3 ? ` (${seconds} s so far)` : "",
      ".",
    ),
  );
}

function failedPanel(avatar) {
  return h(
    "section",
    { class: "panel failed", "aria-labelledby": "failed-title" },
    h("h2", { id: "failed-title" }, "Processing failed"),
    message(avatar.failureReason || "Processing failed.", { title: "Why:" }),
    h(
      "div",
      { class: "button-row" },
      avatar.referenceImageUri
        ? h("a", { class: "button primary", href: `#/characters/${avatar.id}/face` }, "Place the face points by hand")
        : null,
      h("a", { class: "button secondary", href: `#/characters/${avatar.id}/edit` }, "Choose another image"),
    ),
    avatar.referenceImageUri
      ? h("figure", { class: "face-figure" }, h("div", { class: "face-stage" }, h("img", { src: avatar.referenceImageUri, alt: `Reference image of ${avatar.name}` })))
      : null,
  );
}

/** The details row of actions: the avatar's own tools (an API extension) when it has any. */
function actionsText(avatar) {
  const perCall = "Chosen per call (tools of the session); try them in the test call.";
  if (!avatar.tools?.length) return h("span", { class: "muted" }, perCall);
  return h(
    "div",
    {},
    h("ul", { class: "plain avatar-tools" }, avatar.tools.map((tool) => h("li", {}, h("code", {}, tool.name), ` (${tool.type})`))),
    h("p", { class: "muted" }, "Every session of this character has these; a call can add more."),
  );
}

/** The details row of the backend: where the avatar's backend_rpc calls go. */
function backendText(avatar) {
  if (!avatar.backendRpcUrl) return h("span", { class: "muted" }, "The organisation's backend RPC URL, if it has one.");
  return h("code", { class: "backend-url" }, avatar.backendRpcUrl);
}

async function detailsPanel(ctx, avatar) {
  let docNames = [];
  if (avatar.documentIds.length) {
    const docs = await listAll("/documents", { signal: ctx.signal }).catch(() => []);
    const byId = new Map(docs.map((d) => [d.id, d.name]));
    docNames = avatar.documentIds.map((id) => byId.get(id) || id);
  }
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  return h(
    "section",
    { class: "panel", "aria-labelledby": "details-title" },
    h("h2", { id: "details-title" }, "Details"),
    h(
      "dl",
      { class: "details" },
      row("Voice", `${avatar.voice.name || avatar.voice.presetId}${avatar.voice.description ? ` — ${avatar.voice.description}` : ""}`),
      row("Personality", h("p", { class: "prose" }, avatar.personality)),
      row("Starting script", avatar.startScript ? h("p", { class: "prose" }, avatar.startScript) : h("span", { class: "muted" }, "None: the user speaks first.")),
      row("Knowledge", docNames.length ? h("ul", { class: "plain" }, docNames.map((n) => h("li", {}, n))) : h("span", { class: "muted" }, "No documents")),
      row("Actions", actionsText(avatar)),
      row("Backend RPC URL", backendText(avatar)),
      row("Created", formatDate(avatar.createdAt)),
      row("Updated", formatDate(avatar.updatedAt)),
    ),
  );
}

async function recentSessions(ctx, avatar) {
  const section = h("section", { class: "panel", "aria-labelledby": "recent-title" }, h("h2", { id: "recent-title" }, "Recent sessions"));
  try {
    const page = await api.get("/avatar_conversations", { query: { avatar: avatar.id, limit: 5 }, signal: ctx.signal });
    if (!page.data.length) section.append(h("p", { class: "muted" }, "No sessions yet."));
    else {
      section.append(
        h(
          "ul",
          { class: "plain session-links" },
          page.data.map((c) =>
            h("li", {}, h("a", { href: `#/sessions/${c.id}` }, formatDate(c.createdAt)), " ", badge(c.status), " ", h("span", { class: "muted" }, formatDuration(c.duration))),
          ),
        ),
        h("p", {}, h("a", { href: "#/sessions" }, "All sessions")),
      );
    }
  } catch (error) {
    if (!ctx.signal.aborted) section.append(message(describe(error), { kind: "warning" }));
  }
  return section;
}

export async function characterDetail(ctx, avatarId) {
  ctx.main.append(loading("Loading the character…"));
  let avatar = await api.get(`/avatars/${avatarId}`, { signal: ctx.signal });
  ctx.title(avatar.name);
  const statusSlot = h("span", { class: "status-slot" });
  const bodySlot = h("div", { class: "detail-main" });
  const sideSlot = h("div", { class: "detail-side" });
  const pageMessage = h("div", {});
  const remove = h("button", { type: "button", class: "button danger-ghost" }, "Delete");
  ctx.main.replaceChildren(
    h("a", { href: "#/characters", class: "back" }, "← Characters"),
    h(
      "div",
      { class: "page-head" },
      h("div", { class: "title-row" }, h("h1", {}, avatar.name), statusSlot),
      h("div", { class: "button-row" }, h("a", { class: "button secondary", href: `#/characters/${avatar.id}/edit` }, "Edit"), remove),
    ),
    pageMessage,
    h("div", { class: "detail" }, bodySlot, sideSlot),
  );
  focusHeading();

  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({ title: `Delete ${avatar.name}?`, text: "The character and its images are deleted. Its past sessions stay listed. This cannot be undone." });
    if (!ok) return;
    try {
      await api.delete(`/avatars/${avatar.id}`, { signal: ctx.signal });
      ctx.navigate("/characters");
    } catch (error) {
      showIn(pageMessage, describe(error), { title: `${avatar.name} could not be deleted.` });
    }
  });

  const startedAt = Date.now();
  let shown = null;
  async function render() {
    statusSlot.replaceChildren(badge(avatar.status));
    if (avatar.status === "PROCESSING") {
      bodySlot.replaceChildren(processingPanel(avatar, startedAt));
    } else if (shown !== avatar.status) {
      if (avatar.status === "FAILED") bodySlot.replaceChildren(failedPanel(avatar));
      else {
        bodySlot.replaceChildren(
          h("section", { class: "panel", "aria-labelledby": "face-title" }, h("h2", { id: "face-title" }, "Face"), await facePanel(ctx, avatar)),
          callPanel(ctx, avatar),
        );
      }
    }
    if (shown !== avatar.status) {
      sideSlot.replaceChildren(await detailsPanel(ctx, avatar), await recentSessions(ctx, avatar));
      if (shown === "PROCESSING") {
        const ready = avatar.status === "READY";
        showIn(pageMessage, ready ? `${avatar.name} is ready.` : `Processing of ${avatar.name} failed.`, { kind: ready ? "success" : "error" });
      }
    }
    shown = avatar.status;
  }
  await render();
  await pollWhile(ctx, async () => {
    if (avatar.status !== "PROCESSING") return false;
    avatar = await api.get(`/avatars/${avatarId}`, { signal: ctx.signal });
    await render();
    return avatar.status === "PROCESSING";
  });
}
