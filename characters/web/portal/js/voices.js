// The voice picker: the 30 preset voices (GET /v1/voice_presets) and a sample of each
// (GET /v1/voices/{id}/preview, a WAV fetched with the API key, played from a blob: URL).

import { api, blobUrl } from "./api.js";
import { describe, h, showIn, uid } from "./dom.js";

let presets = null;

export async function voicePresets(signal) {
  if (!presets) presets = await api.get("/voice_presets", { signal });
  return presets;
}

function optionText(voice) {
  const parts = [voice.name];
  if (voice.description) parts.push(`— ${voice.description}`);
  if (voice.gender) parts.push(`(${voice.gender})`);
  return parts.join(" ");
}

/**
 * A <select> of preset voices with a "Play sample" button. Returns {element, value()}.
 * Blob URLs are revoked when the screen is left (ctx.onCleanup).
 */
export async function voicePicker(ctx, selected) {
  const voices = await voicePresets(ctx.signal);
  const id = uid("voice");
  const select = h(
    "select",
    { id, name: "voice", "aria-describedby": `${id}-message` },
    voices.map((v) => h("option", { value: v.id, selected: v.id === selected }, optionText(v))),
  );
  if (!selected) select.value = voices.find((v) => v.id === "clara")?.id || voices[0]?.id;
  const play = h("button", { type: "button", class: "button secondary", "aria-describedby": id }, "▶ Play sample");
  const audio = h("audio", { controls: true, preload: "auto", class: "voice-audio", hidden: true });
  const slot = h("div", { id: `${id}-message`, class: "field-message" });
  const urls = new Map();
  ctx.onCleanup(() => {
    audio.pause();
    for (const url of urls.values()) URL.revokeObjectURL(url);
  });

  play.addEventListener("click", async () => {
    const voice = select.value;
    const name = voices.find((v) => v.id === voice)?.name || voice;
    showIn(slot, null);
    play.disabled = true;
    play.textContent = "Loading sample…";
    try {
      if (!urls.has(voice)) urls.set(voice, await blobUrl(`/voices/${encodeURIComponent(voice)}/preview`));
      audio.src = urls.get(voice);
      audio.hidden = false;
      audio.setAttribute("aria-label", `Sample of the voice ${name}`);
      try {
        await audio.play();
      } catch {
        showIn(slot, "The browser did not start the sample by itself; press play on the player.", { kind: "info" });
      }
    } catch (error) {
      showIn(slot, `The sample of ${name} could not be played: ${describe(error)}`);
    } finally {
      play.disabled = false;
      play.textContent = "▶ Play sample";
    }
  });
  select.addEventListener("change", () => {
    audio.pause();
    audio.hidden = true;
    showIn(slot, null);
  });

  const element = h(
    "div",
    { class: "field" },
    h("label", { for: id }, "Voice"),
    h("div", { class: "inline-controls" }, select, play),
    audio,
    slot,
  );
  return { element, select, value: () => select.value, messageSlot: slot };
}
