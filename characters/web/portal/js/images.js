// Checks on a reference image before it is uploaded, with the server's own limits.
//
// The limits come from /portal/config.json (the server's CHARACTERS_MAX_IMAGE_BYTES, …). The
// server checks everything again: its 400 message is shown when it refuses an image.

import { serverConfig } from "./config.js";
import { formatBytes } from "./dom.js";

const TYPES = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp" };
const EXTENSIONS = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

export const imageLimits = serverConfig;

function megabytes(bytes) {
  const mb = bytes / (1024 * 1024);
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}

/** The image's media type: the browser's, or from the file name's extension. */
function typeOf(file) {
  if (file.type) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return EXTENSIONS[ext] || "";
}

/** The filename to upload under (the upload API wants a media extension). */
export function uploadName(file) {
  return `reference.${TYPES[typeOf(file)] || "png"}`;
}

function decode(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight, url });
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error("undecodable"));
    };
    img.src = url;
  });
}

/**
 * Check a chosen file. Resolves to {ok: true, width, height, url} (url: a blob URL for the
 * preview; the caller revokes it) or {ok: false, message}.
 */
export async function checkImage(file) {
  const { maxImageBytes, maxImagePixels, minImageSide } = await imageLimits();
  const name = `“${file.name}”`;
  const type = typeOf(file);
  if (!type.startsWith("image/")) {
    return {
      ok: false,
      message: `${name} is not an image${type ? ` (it is ${type})` : ""}. Choose a photo or drawing saved as JPEG, PNG or WebP.`,
    };
  }
  if (!(type in TYPES)) {
    return {
      ok: false,
      message: `${name} is a ${type.replace("image/", "").toUpperCase()} image; the server accepts JPEG, PNG and WebP only. Save it in one of those formats.`,
    };
  }
  if (file.size === 0) return { ok: false, message: `${name} is empty. Choose another file.` };
  if (file.size > maxImageBytes) {
    return {
      ok: false,
      message: `${name} is ${formatBytes(file.size)}; the server accepts images of at most ${megabytes(maxImageBytes)}. Save a smaller version (for example as JPEG, about 2000 pixels wide).`,
    };
  }
  let decoded;
  try {
    decoded = await decode(file);
  } catch {
    return { ok: false, message: `${name} could not be read as an image; it may be damaged. Choose another file.` };
  }
  const { width, height } = decoded;
  const fail = (text) => {
    URL.revokeObjectURL(decoded.url);
    return { ok: false, message: text };
  };
  if (Math.min(width, height) < minImageSide) {
    return fail(`${name} is only ${width} × ${height} pixels; images must be at least ${minImageSide} pixels on each side.`);
  }
  if (width * height > maxImagePixels) {
    const mp = Math.round((width * height) / 1e6);
    return fail(
      `${name} is ${width} × ${height} pixels (${mp} megapixels); the server accepts at most ${Math.floor(maxImagePixels / 1e6)} megapixels. Downscale it.`,
    );
  }
  return { ok: true, ...decoded };
}

const SIZES = "characters.imageSize.";

/** Remember the size of the image an avatar was given from this tab (for placing keypoints). */
export function rememberImageSize(avatarId, width, height) {
  try {
    sessionStorage.setItem(SIZES + avatarId, JSON.stringify([width, height]));
  } catch {
    // storage full or disabled: placing keypoints will ask for the file again
  }
}

export function rememberedImageSize(avatarId) {
  try {
    const value = JSON.parse(sessionStorage.getItem(SIZES + avatarId) || "null");
    return Array.isArray(value) && value.length === 2 ? { width: value[0], height: value[1] } : null;
  } catch {
    return null;
  }
}
