// Knowledge documents (/v1/documents): the Knowledge screen, and the picker in the character
// form that attaches documents to a character (the avatar's documentIds, at most 50).

import { api, listAll, uploadFile } from "./api.js";
import { confirmDialog, describe, focusHeading, formatDate, h, loading, message, showIn, uid } from "./dom.js";

const MAX_CONTENT = 200_000;
const FILE_TYPES = { txt: "text/plain", md: "text/markdown", pdf: "application/pdf" };
export const MAX_DOCUMENTS = 50;

/**
 * The "add a document" form: a name and either pasted text or a .txt/.md/.pdf file.
 * onCreated(document) is called with the created document.
 */
function documentForm(ctx, onCreated) {
  const nameId = uid("doc-name");
  const textId = uid("doc-text");
  const fileId = uid("doc-file");
  const name = h("input", { id: nameId, maxlength: 255, autocomplete: "off" });
  const text = h("textarea", { id: textId, rows: 5, maxlength: MAX_CONTENT, "aria-describedby": `${textId}-hint` });
  const file = h("input", { id: fileId, type: "file", accept: ".txt,.md,.pdf,text/plain,text/markdown,application/pdf" });
  const slot = h("div", { class: "field-message" });
  const add = h("button", { type: "button", class: "button secondary" }, "Add document");

  add.addEventListener("click", async () => {
    showIn(slot, null);
    const chosen = file.files[0];
    const docName = name.value.trim() || (chosen ? chosen.name.replace(/\.[^.]+$/, "") : "");
    if (!docName) {
      showIn(slot, "Give the document a name.");
      name.focus();
      return;
    }
    if (!chosen && !text.value.trim()) {
      showIn(slot, "Paste the document's text, or choose a .txt, .md or .pdf file.");
      text.focus();
      return;
    }
    if (chosen && text.value.trim()) {
      showIn(slot, "Give either text or a file, not both.");
      return;
    }
    let extension = "";
    if (chosen) {
      extension = (chosen.name.split(".").pop() || "").toLowerCase();
      if (!(extension in FILE_TYPES)) {
        showIn(slot, `“${chosen.name}” is not a .txt, .md or .pdf file.`);
        return;
      }
    }
    add.disabled = true;
    add.textContent = "Adding…";
    try {
      const body = { name: docName.slice(0, 255) };
      if (chosen) body.file = await uploadFile(chosen, `document.${extension}`, { signal: ctx.signal });
      else body.content = text.value;
      const doc = await api.post("/documents", body, { signal: ctx.signal });
      name.value = "";
      text.value = "";
      file.value = "";
      showIn(slot, `Added “${doc.name}”.`, { kind: "success" });
      onCreated(doc);
    } catch (error) {
      showIn(slot, `The document could not be added: ${describe(error)}`);
    } finally {
      add.disabled = false;
      add.textContent = "Add document";
    }
  });

  return h(
    "div",
    { class: "subform" },
    h("div", { class: "field" }, h("label", { for: nameId }, "Document name"), name),
    h(
      "div",
      { class: "field" },
      h("label", { for: textId }, "Text"),
      h("p", { class: "hint", id: `${textId}-hint` }, "Facts the character may use in its answers (up to 200 000 characters)."),
      text,
    ),
    h("div", { class: "field" }, h("label", { for: fileId }, "…or a file (.txt, .md or .pdf)"), file),
    slot,
    add,
  );
}

/** Checkboxes of the organisation's documents, for the character form. */
export async function knowledgePicker(ctx, selectedIds) {
  const selected = new Set(selectedIds || []);
  const docs = await listAll("/documents", { signal: ctx.signal, query: { sort: "createdAt", order: "desc" } });
  const list = h("ul", { class: "checklist" });
  const slot = h("div", { class: "field-message", id: uid("knowledge-message") });
  const empty = h("p", { class: "hint" }, "No documents yet: add one below.");

  function row(doc) {
    const id = uid("doc");
    const box = h("input", { type: "checkbox", id, value: doc.id, checked: selected.has(doc.id) });
    return h(
      "li",
      {},
      box,
      h("label", { for: id }, doc.name, h("span", { class: "muted" }, ` · ${doc.type === "file" ? "file" : "text"}`)),
    );
  }
  for (const doc of docs) list.append(row(doc));
  empty.hidden = docs.length > 0;

  const details = h(
    "details",
    { class: "add-document" },
    h("summary", {}, "Add a document"),
    documentForm(ctx, (doc) => {
      selected.add(doc.id);
      list.prepend(row(doc));
      empty.hidden = true;
    }),
  );
  const element = h(
    "fieldset",
    { class: "fieldset" },
    h("legend", {}, "Knowledge"),
    h(
      "p",
      { class: "hint" },
      `Documents the character knows about (at most ${MAX_DOCUMENTS}). They are shared by your organisation; manage them under Knowledge.`,
    ),
    empty,
    list,
    slot,
    details,
  );
  return {
    element,
    messageSlot: slot,
    value: () => [...list.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value),
  };
}

/** The Knowledge screen: every document, add and delete. */
export async function knowledgeList(ctx) {
  ctx.title("Knowledge");
  const body = h("div", {}, loading("Loading documents…"));
  const slot = h("div", {});
  ctx.main.append(
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, "Knowledge"), h("p", { class: "lead" }, "Documents your characters can draw facts from.")),
    ),
    slot,
    body,
    h("section", { class: "panel", "aria-labelledby": "new-doc" }, h("h2", { id: "new-doc" }, "Add a document"), documentForm(ctx, () => render())),
  );
  focusHeading();

  async function remove(doc) {
    const users = doc.usedBy.length;
    const ok = await confirmDialog({
      title: `Delete “${doc.name}”?`,
      text: users
        ? `It is attached to ${users} character${users === 1 ? "" : "s"}; it will be removed from them. This cannot be undone.`
        : "This cannot be undone.",
    });
    if (!ok) return;
    try {
      await api.delete(`/documents/${doc.id}`, { signal: ctx.signal });
      showIn(slot, `Deleted “${doc.name}”.`, { kind: "success" });
      render();
    } catch (error) {
      showIn(slot, `“${doc.name}” could not be deleted: ${describe(error)}`);
    }
  }

  async function render() {
    let docs;
    try {
      docs = await listAll("/documents", { signal: ctx.signal, query: { sort: "updatedAt", order: "desc" } });
    } catch (error) {
      if (ctx.signal.aborted) return;
      body.replaceChildren(message(describe(error), { title: "The documents could not be loaded." }));
      return;
    }
    if (!docs.length) {
      body.replaceChildren(h("p", { class: "empty" }, "No documents yet. Add one below, then attach it to a character."));
      return;
    }
    body.replaceChildren(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table" },
          h("caption", { class: "visually-hidden" }, "Knowledge documents"),
          h(
            "thead",
            {},
            h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Used by"), h("th", { scope: "col" }, "Updated"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions"))),
          ),
          h(
            "tbody",
            {},
            docs.map((doc) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, doc.name),
                h("td", {}, doc.type === "file" ? "File" : "Text"),
                h(
                  "td",
                  {},
                  doc.usedBy.length
                    ? doc.usedBy.map((a, i) => [i ? ", " : "", h("a", { href: `#/characters/${a.id}` }, a.name)])
                    : h("span", { class: "muted" }, "No character"),
                ),
                h("td", {}, formatDate(doc.updatedAt)),
                h(
                  "td",
                  { class: "actions" },
                  h("button", { type: "button", class: "button small danger-ghost", onclick: () => remove(doc), "aria-label": `Delete ${doc.name}` }, "Delete"),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }
  await render();
}
