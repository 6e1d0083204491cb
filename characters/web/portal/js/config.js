// This server's settings the portal needs (GET /portal/config.json): the reference-image limits,
// the credit rate and Runway's page action tools (`pageActionTools`). The defaults are the server's defaults (characters/config.py), used only
// if the file cannot be fetched; the server checks everything again anyway.

const DEFAULTS = {
  maxImageBytes: 5 * 1024 * 1024,
  maxImagePixels: 40_000_000,
  minImageSide: 64,
  creditUnitSeconds: 6,
  creditsPerUnit: 2,
};

let loaded = null;

export function serverConfig() {
  loaded ||= (async () => {
    try {
      const response = await fetch("/portal/config.json", { cache: "no-store" });
      return response.ok ? { ...DEFAULTS, ...(await response.json()) } : DEFAULTS;
    } catch {
      return DEFAULTS;
    }
  })();
  return loaded;
}

/** Credits of a session of this many seconds: creditsPerUnit per started creditUnitSeconds. */
export async function creditsFor(seconds) {
  if (seconds === null || seconds === undefined) return null;
  const { creditUnitSeconds, creditsPerUnit } = await serverConfig();
  return Math.ceil(seconds / creditUnitSeconds - 1e-9) * creditsPerUnit;
}

/** "2 credits per started 6 seconds", as this server charges. */
export async function creditRate() {
  const { creditUnitSeconds, creditsPerUnit } = await serverConfig();
  return `${creditsPerUnit} credit${creditsPerUnit === 1 ? "" : "s"} per started ${creditUnitSeconds} second${creditUnitSeconds === 1 ? "" : "s"}`;
}
