// Face landmarks: drawing keypoints on the reference image, and placing them by hand.
//
// Keypoints are in pixels of the reference image as sent, shown upright (docs/face-keypoints.md).
// The image shown is the server's small preview (or the user's own file), so the overlay is an
// SVG whose viewBox is the full image size: points are drawn and clicked in image pixels.

import { api, uploadFile } from "./api.js";
import { describe, focusHeading, h, loading, message, showIn, svg } from "./dom.js";
import { checkImage, rememberImageSize, rememberedImageSize, uploadName } from "./images.js";

const EYE_PARTS = [
  ["center", "centre", "The middle of the pupil (or of the eye)."],
  ["left", "left corner", "Where the eye opening ends on the left, as seen in the image."],
  ["right", "right corner", "Where the eye opening ends on the right."],
  ["top", "top", "The middle of the upper lid's edge; for a drawn eye, the outer edge of its outline."],
  ["bottom", "bottom", "The middle of the lower lid's edge."],
];

/** The guided sequence: one click per step, then the outline points. */
export const STEPS = [
  ...EYE_PARTS.map(([part, name, help]) => ({
    path: ["leftEye", part],
    label: `Left eye — ${name}`,
    help: `The eye on the LEFT of the image. ${help}`,
  })),
  ...EYE_PARTS.map(([part, name, help]) => ({
    path: ["rightEye", part],
    label: `Right eye — ${name}`,
    help: `The eye on the RIGHT of the image. ${help}`,
  })),
  { path: ["mouthLeft"], label: "Mouth — left corner", help: "The left corner of the mouth, as seen in the image." },
  { path: ["mouthRight"], label: "Mouth — right corner", help: "The right corner of the mouth." },
  { path: ["upperLip"], label: "Upper lip", help: "The middle of the upper lip's top edge." },
  { path: ["lowerLip"], label: "Lower lip", help: "The middle of the lower lip's bottom edge." },
  { path: ["chin"], label: "Chin", help: "The bottom of the chin, on or just inside the face's outline." },
];
export const MIN_OUTLINE = 5;
const MAX_OUTLINE = 200;

const LABELS = {
  leftEye: "Left eye",
  rightEye: "Right eye",
  mouthLeft: "Mouth, left corner",
  mouthRight: "Mouth, right corner",
  upperLip: "Upper lip",
  lowerLip: "Lower lip",
  innerUpperLip: "Inner upper lip",
  innerLowerLip: "Inner lower lip",
  chin: "Chin",
  faceOutline: "Face outline",
  center: "centre",
  left: "left corner",
  right: "right corner",
  top: "top",
  bottom: "bottom",
};

/** ["faceKeypoints", "leftEye", "top"] → "Left eye, top"; ["faceKeypoints","faceOutline",3] → "Face outline, point 4". */
export function pointName(path) {
  const parts = path.filter((p) => p !== "faceKeypoints");
  return parts.map((p) => (typeof p === "number" ? `point ${p + 1}` : LABELS[p] || p)).join(", ");
}

function pathD(points, close) {
  if (!points.length) return "";
  return points.map(([x, y], i) => `${i ? "L" : "M"}${x} ${y}`).join(" ") + (close ? " Z" : "");
}

/** An eye as a closed curve through its corners and lid points (or a line without them). */
function eyeD(eye) {
  if (!eye?.left || !eye?.right) return "";
  const [lx, ly] = eye.left;
  const [rx, ry] = eye.right;
  if (!eye.top || !eye.bottom) return `M${lx} ${ly} L${rx} ${ry}`;
  // quadratic curves whose peak passes through the lid point: control = 2·lid − (left+right)/2
  const ctrl = ([x, y]) => [2 * x - (lx + rx) / 2, 2 * y - (ly + ry) / 2];
  const [tx, ty] = ctrl(eye.top);
  const [bx, by] = ctrl(eye.bottom);
  return `M${lx} ${ly} Q${tx} ${ty} ${rx} ${ry} Q${bx} ${by} ${lx} ${ly} Z`;
}

/** Every [x, y] of a keypoints object, with its path. */
export function flatten(keypoints) {
  const out = [];
  for (const [key, value] of Object.entries(keypoints || {})) {
    if (key === "faceOutline") value.forEach((p, i) => out.push({ path: [key, i], point: p }));
    else if (Array.isArray(value)) out.push({ path: [key], point: value });
    else if (value && typeof value === "object") {
      for (const [part, p] of Object.entries(value)) out.push({ path: [key, part], point: p });
    }
  }
  return out;
}

/** The part of the image around the face: [x, y, width, height], with a margin, inside the image. */
export function faceView(keypoints, width, height, margin = 0.45) {
  const points = flatten(keypoints).map((p) => p.point);
  if (!points.length) return [0, 0, width, height];
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const side = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const pad = side * margin;
  const x0 = Math.max(0, Math.min(...xs) - pad);
  const y0 = Math.max(0, Math.min(...ys) - pad);
  const x1 = Math.min(width, Math.max(...xs) + pad);
  const y1 = Math.min(height, Math.max(...ys) + pad);
  return [x0, y0, x1 - x0, y1 - y0].map((v) => Math.round(v * 10) / 10);
}

/**
 * Draw keypoints as an SVG whose coordinates are image pixels. Without `image` it is an overlay
 * sized to cover an <img> (put both in a .face-stage); with `image` (a URL) the SVG shows the
 * image itself, and `view` ([x, y, w, h], default the whole image) zooms into it. highlight: a
 * path to mark as wrong (e.g. from a 400's issues).
 */
export function keypointsOverlay(keypoints, width, height, { highlight = null, label = null, image = null, view = null } = {}) {
  const [vx, vy, vw, vh] = view || [0, 0, width, height];
  const r = Math.max(vw, vh) / 110;
  const outline = keypoints.faceOutline || [];
  const mouth = [keypoints.mouthLeft, keypoints.upperLip, keypoints.mouthRight, keypoints.lowerLip].filter(Boolean);
  const points = flatten(keypoints);
  const wrong = highlight ? highlight.filter((p) => p !== "faceKeypoints").join(".") : null;
  return svg(
    "svg",
    {
      class: image ? "face-overlay face-picture" : "face-overlay",
      viewBox: `${vx} ${vy} ${vw} ${vh}`,
      preserveAspectRatio: image ? "xMidYMid meet" : "none",
      role: "img",
      "aria-label": label || `Face landmarks: eyes, mouth, chin and a face outline of ${outline.length} points.`,
      dataset: { points: String(points.length) },
    },
    image ? svg("image", { href: image, x: 0, y: 0, width, height, preserveAspectRatio: "none" }) : null,
    svg("path", { class: "lm-outline", d: pathD(outline, outline.length > 2) }),
    svg("path", { class: "lm-eye", d: eyeD(keypoints.leftEye) }),
    svg("path", { class: "lm-eye", d: eyeD(keypoints.rightEye) }),
    svg("path", { class: "lm-mouth", d: pathD(mouth, mouth.length === 4) }),
    points.map(({ path, point }) =>
      svg(
        "circle",
        {
          class: `lm-point lm-${path[0]}${wrong && path.join(".").startsWith(wrong) ? " lm-wrong" : ""}`,
          cx: point[0],
          cy: point[1],
          r: path[0] === "faceOutline" ? r * 0.75 : r,
        },
        svg("title", {}, pointName(path)),
      ),
    ),
  );
}

/** The face panel of a READY avatar: its image with the landmarks from GET /face, zoomed on the face. */
export async function facePanel(ctx, avatar) {
  const panel = h("div", { class: "face-panel" }, loading("Loading the face landmarks…"));
  (async () => {
    let face;
    try {
      face = await api.get(`/avatars/${avatar.id}/face`, { signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted) return;
      panel.replaceChildren(message(describe(error), { kind: "warning", title: "The face landmarks could not be shown." }));
      return;
    }
    const { keypoints, imageWidth: width, imageHeight: height } = face;
    const zoom = faceView(keypoints, width, height);
    const picture = h("div", { class: "face-picture-holder" });
    const toggle = h("button", { type: "button", class: "button secondary", "aria-pressed": "true" });
    let zoomed = true;
    const draw = () => {
      picture.replaceChildren(
        keypointsOverlay(keypoints, width, height, {
          image: avatar.referenceImageUri,
          view: zoomed ? zoom : null,
          label: `Reference image of ${avatar.name}${zoomed ? ", zoomed on the face," : ""} with its face landmarks: eyes, mouth, chin and a face outline of ${keypoints.faceOutline.length} points.`,
        }),
      );
      toggle.textContent = zoomed ? "Show the whole image" : "Zoom to the face";
      toggle.setAttribute("aria-pressed", String(zoomed));
    };
    toggle.addEventListener("click", () => {
      zoomed = !zoomed;
      draw();
    });
    draw();
    panel.replaceChildren(
      h(
        "figure",
        { class: "face-figure", dataset: { source: face.source } },
        picture,
        h(
          "figcaption",
          {},
          face.source === "manual" ? "Face points placed by hand." : "Face landmarks found by face detection.",
          ` The image is ${width} × ${height} pixels.`,
        ),
      ),
      h(
        "div",
        { class: "button-row" },
        toggle,
        h("a", { class: "button secondary", href: `#/characters/${avatar.id}/face` }, "Correct the face points"),
      ),
    );
  })();
  return panel;
}

/** The screen #/characters/{id}/face: place the face points with a guided click sequence. */
export async function placeKeypoints(ctx, avatarId) {
  ctx.title("Place face points");
  ctx.main.append(loading("Loading the character…"));
  const avatar = await api.get(`/avatars/${avatarId}`, { signal: ctx.signal });
  let size = null;
  let existing = null;
  try {
    const face = await api.get(`/avatars/${avatarId}/face`, { signal: ctx.signal });
    size = { width: face.imageWidth, height: face.imageHeight };
    existing = face;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    if (error.status !== 404) throw error;
    size = rememberedImageSize(avatarId);
  }
  ctx.main.replaceChildren();
  const back = h("a", { href: `#/characters/${avatarId}`, class: "back" }, `← ${avatar.name}`);
  ctx.main.append(back, h("h1", {}, `Place the face points of ${avatar.name}`));
  focusHeading();

  if (avatar.status === "PROCESSING") {
    ctx.main.append(message("The character is still processing. Wait until it is ready or failed, then place the points.", { kind: "info" }));
    return;
  }
  if (size && avatar.referenceImageUri) {
    placer(ctx, avatar, { imageUrl: avatar.referenceImageUri, ...size, file: null, existing });
    return;
  }
  // The server keeps only a small preview of the image, and this tab does not know the size of
  // the original: ask for the file, place the points on it, and send both together.
  const slot = h("div", { class: "field-message" });
  const input = h("input", { id: "face-file", type: "file", accept: "image/jpeg,image/png,image/webp" });
  ctx.main.append(
    h(
      "section",
      { class: "panel" },
      h(
        "p",
        {},
        "To place the points precisely, choose the character's image file again (the server keeps only a small preview of it). The image and the points are sent together.",
      ),
      h("div", { class: "field" }, h("label", { for: "face-file" }, "Reference image"), input, slot),
    ),
  );
  input.addEventListener("change", async () => {
    showIn(slot, null);
    const file = input.files[0];
    if (!file) return;
    const checked = await checkImage(file);
    if (!checked.ok) {
      showIn(slot, checked.message);
      return;
    }
    ctx.onCleanup(() => URL.revokeObjectURL(checked.url));
    input.closest("section").remove();
    placer(ctx, avatar, { imageUrl: checked.url, width: checked.width, height: checked.height, file, existing: null });
  });
}

function placer(ctx, avatar, { imageUrl, width, height, file, existing }) {
  const placed = []; // {path, point}
  const total = STEPS.length;
  let cursor = [width / 2, height / 2];
  let highlight = null;

  const step = h("p", { class: "step-title", id: "step-title" });
  const help = h("p", { class: "hint", id: "step-help" });
  const progress = h("progress", { max: total + MIN_OUTLINE, value: 0, "aria-label": "Points placed" });
  const errorSlot = h("div", { class: "field-message placement-errors", id: "placement-errors" });
  const img = h("img", { src: imageUrl, alt: `Reference image of ${avatar.name}`, draggable: "false" });
  const overlayHolder = h("div", { class: "overlay-holder" });
  const stage = h(
    "div",
    {
      class: "face-stage placing",
      tabindex: "0",
      role: "group",
      "aria-roledescription": "point placement",
      "aria-labelledby": "step-title",
      "aria-describedby": "step-help keyboard-help placement-errors",
    },
    img,
    overlayHolder,
  );
  const undo = h("button", { type: "button", class: "button secondary" }, "Undo");
  const restart = h("button", { type: "button", class: "button secondary" }, "Start over");
  const done = h("button", { type: "button", class: "button primary" }, "Done");
  const cancel = h("a", { href: `#/characters/${avatar.id}`, class: "button ghost" }, "Cancel");

  function keypoints() {
    const out = {};
    for (const { path, point } of placed) {
      if (path[0] === "faceOutline") (out.faceOutline ||= []).push(point);
      else if (path.length === 2) (out[path[0]] ||= {})[path[1]] = point;
      else out[path[0]] = point;
    }
    return out;
  }

  function outlineCount() {
    return placed.filter((p) => p.path[0] === "faceOutline").length;
  }

  function render() {
    const n = placed.length;
    if (n < total) {
      step.textContent = `Step ${n + 1} of ${total}: ${STEPS[n].label}`;
      help.textContent = STEPS[n].help;
    } else {
      const k = outlineCount();
      step.textContent = `Face outline: point ${k + 1}`;
      help.textContent =
        k < MIN_OUTLINE
          ? `Click around the face in order (forehead, cheeks, jaw), not the hair: at least ${MIN_OUTLINE} points, ${MIN_OUTLINE - k} more to go. 10 to 20 points give a good outline.`
          : `${k} outline points. Add more around the face, or press Done.`;
    }
    progress.value = Math.min(n, total + MIN_OUTLINE);
    undo.disabled = n === 0;
    restart.disabled = n === 0;
    done.disabled = outlineCount() < MIN_OUTLINE;
    const shown = keypoints();
    const overlay = keypointsOverlay(shown, width, height, { highlight, label: `${n} points placed.` });
    if (document.activeElement === stage || stage.matches(":focus-visible")) {
      overlay.append(
        svg("path", {
          class: "lm-cursor",
          d: `M${cursor[0] - width / 40} ${cursor[1]} H${cursor[0] + width / 40} M${cursor[0]} ${cursor[1] - width / 40} V${cursor[1] + width / 40}`,
        }),
      );
    }
    overlayHolder.replaceChildren(overlay);
    stage.dataset.placed = String(n);
  }

  function place(point) {
    if (outlineCount() >= MAX_OUTLINE) {
      showIn(errorSlot, `The outline has the most points allowed (${MAX_OUTLINE}). Press Done.`, { kind: "info" });
      return;
    }
    const n = placed.length;
    const path = n < total ? STEPS[n].path : ["faceOutline", outlineCount()];
    placed.push({ path, point: point.map((v) => Math.round(v * 10) / 10) });
    highlight = null;
    showIn(errorSlot, null);
    render();
  }

  function fromEvent(event) {
    const rect = img.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * width;
    const y = ((event.clientY - rect.top) / rect.height) * height;
    return [Math.min(Math.max(x, 0), width), Math.min(Math.max(y, 0), height)];
  }

  stage.addEventListener("click", (event) => {
    cursor = fromEvent(event);
    place(cursor);
  });
  stage.addEventListener("focus", render);
  stage.addEventListener("blur", render);
  stage.addEventListener("keydown", (event) => {
    const stepPx = (event.shiftKey ? 10 : 1) * Math.max(1, Math.round(width / 300));
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      cursor = [Math.min(Math.max(cursor[0] + dx * stepPx, 0), width), Math.min(Math.max(cursor[1] + dy * stepPx, 0), height)];
      render();
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      place(cursor);
    } else if ((event.key === "z" && (event.ctrlKey || event.metaKey)) || event.key === "Backspace") {
      event.preventDefault();
      undo.click();
    }
  });
  undo.addEventListener("click", () => {
    placed.pop();
    highlight = null;
    showIn(errorSlot, null);
    render();
  });
  restart.addEventListener("click", () => {
    placed.length = 0;
    highlight = null;
    showIn(errorSlot, null);
    render();
    stage.focus();
  });
  done.addEventListener("click", async () => {
    showIn(errorSlot, null);
    done.disabled = true;
    done.textContent = "Sending…";
    try {
      const body = { faceKeypoints: keypoints() };
      if (file) body.referenceImage = await uploadFile(file, uploadName(file), { signal: ctx.signal });
      await api.patch(`/avatars/${avatar.id}`, body, { signal: ctx.signal });
      if (file) rememberImageSize(avatar.id, width, height);
      ctx.navigate(`/characters/${avatar.id}`);
    } catch (error) {
      if (ctx.signal.aborted) return;
      const where = error.path?.[0] === "faceKeypoints" && error.path.length > 1 ? `${pointName(error.path)}: ` : "";
      highlight = error.path?.[0] === "faceKeypoints" ? error.path : null;
      render();
      showIn(
        errorSlot,
        `${where}${describe(error)} Undo back to that point, or start over.`,
        { title: "The server did not accept the points." },
      );
      errorSlot.querySelector(".alert")?.setAttribute("tabindex", "-1");
      errorSlot.querySelector(".alert")?.focus();
      done.disabled = outlineCount() < MIN_OUTLINE;
    } finally {
      done.textContent = "Done";
    }
  });

  ctx.main.append(
    h(
      "div",
      { class: "placement" },
      h(
        "div",
        { class: "placement-image" },
        stage,
        errorSlot,
      ),
      h(
        "aside",
        { class: "placement-guide panel", "aria-label": "Guide" },
        h("div", { "aria-live": "polite" }, step, help),
        progress,
        h(
          "p",
          { class: "hint", id: "keyboard-help" },
          "Click the image to place each point. With the keyboard: focus the image, move the cross with the arrow keys (Shift for bigger steps), press Enter to place a point and Backspace to undo.",
        ),
        existing
          ? h("p", { class: "hint" }, existing.source === "manual" ? "These points replace the ones placed before." : "These points replace the detected landmarks; detection is not used while the character has them.")
          : null,
        h("div", { class: "button-row" }, undo, restart),
        h("div", { class: "button-row" }, done, cancel),
      ),
    ),
  );
  render();
}
