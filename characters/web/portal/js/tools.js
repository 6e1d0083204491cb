// Actions (`tools`) typed as JSON, shared by the character form (the avatar's own tools) and the
// test call (the session's tools): the box, its check in the page (a JSON array; the server
// checks the tools themselves), and the button adding Runway's page actions from
// /portal/config.json (`pageActionTools`).

import { serverConfig } from "./config.js";
import { h, showIn } from "./dom.js";

export const TOOLS_PLACEHOLDER = '[{"type": "client_event", "name": "show_map", "description": "…"}]';

/** The tools typed in a box: [] when it is empty; throws an Error fit to show. */
export function parseTools(text, { endpoint = "POST /v1/realtime_sessions" } = {}) {
  if (!text.trim()) return [];
  let tools;
  try {
    tools = JSON.parse(text);
  } catch (error) {
    throw new Error(`The actions are not valid JSON: ${error.message}. Write a JSON array of tools, or leave the box empty.`);
  }
  if (!Array.isArray(tools)) {
    throw new Error(`The actions must be a JSON array of tools ([{…}, …]), as in tools of ${endpoint}.`);
  }
  return tools;
}

/** Tools as a JSON array, one tool a line (shorter to read than fully indented JSON); "" for none. */
export function toolsText(tools) {
  if (!tools?.length) return "";
  return `[\n${tools.map((tool) => `  ${JSON.stringify(tool)}`).join(",\n")}\n]`;
}

/** Rows that show `text` whole, within reason. */
export function toolsRows(text, least = 6) {
  return Math.min(Math.max(least, text.split("\n").length + 1), 16);
}

/** A refusal of the tools by the server (a 400 about `tools`), not of the rest of the request. */
export function refusesTools(error) {
  return error?.status === 400 && (error.path?.[0] === "tools" || /\btools?\b/i.test(error.message || ""));
}

/**
 * The "Add Runway's page actions" button of a tools box: puts in this server's page actions,
 * keeping the tools already there except ones of the same names. Notes go to `slot`.
 */
export function pageActionsButton(textarea, slot) {
  const button = h("button", { type: "button", class: "button secondary" }, "Add Runway's page actions");
  button.addEventListener("click", async () => {
    const { pageActionTools } = await serverConfig();
    if (!pageActionTools?.length) {
      showIn(slot, "This server did not send its page actions (/portal/config.json); write them by hand (docs/actions.md).", { kind: "warning" });
      return;
    }
    let current = [];
    try {
      current = parseTools(textarea.value);
    } catch {
      current = []; // the box held something that was not a list of tools: replaced
    }
    const names = new Set(pageActionTools.map((tool) => tool.name));
    const kept = current.filter((tool) => !names.has(tool?.name));
    textarea.value = toolsText([...kept, ...pageActionTools]);
    textarea.rows = toolsRows(textarea.value, 10);
    textarea.removeAttribute("aria-invalid");
    showIn(slot, null);
  });
  return button;
}
