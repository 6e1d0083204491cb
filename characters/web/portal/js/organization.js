// The organisation: credit balance, tier limits, today's sessions, and usage over a period
// (GET /v1/avatar_usage for sessions per day, POST /v1/organization/usage for credits).

import { api } from "./api.js";
import { barChart } from "./chart.js";
import { creditRate } from "./config.js";
import { describe, focusHeading, formatDuration, formatNumber, h, loading, message } from "./dom.js";

const MODEL = "gwm1_avatars";
// The server's tiers (docs/api.md, Tiers): concurrent sessions, sessions per day, monthly spend.
const TIERS = [
  [1, 1, 50, 20_000],
  [2, 2, 200, 100_000],
  [3, 4, 1_000, 500_000],
  [4, 8, 5_000, 2_000_000],
  [5, 16, 20_000, 10_000_000],
];
const RANGES = [7, 30, 90];
const DAY_MS = 86_400_000;

function tierName(tier) {
  const limits = tier.models?.[MODEL] || {};
  const found = TIERS.find(
    ([, active, daily, spend]) =>
      limits.maxConcurrentGenerations === active && limits.maxDailyGenerations === daily && tier.maxMonthlyCreditSpend === spend,
  );
  return found ? `Tier ${found[0]}` : "Custom tier";
}

function stat(label, value, note = null) {
  return h("div", { class: "stat" }, h("p", { class: "stat-label" }, label), h("p", { class: "stat-value" }, value), note ? h("p", { class: "muted" }, note) : null);
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

async function usagePanel(ctx, days, slot) {
  slot.replaceChildren(loading(`Loading the usage of the last ${days} days…`));
  const today = new Date(`${isoDay(new Date())}T00:00:00Z`);
  const start = new Date(today.getTime() - (days - 1) * DAY_MS);
  const end = new Date(today.getTime() + DAY_MS);
  try {
    const [usage, credits] = await Promise.all([
      api.get("/avatar_usage", { query: { startDate: start.toISOString(), endDate: end.toISOString() }, signal: ctx.signal }),
      api.post("/organization/usage", { startDate: isoDay(start), beforeDate: isoDay(end) }, { signal: ctx.signal }),
    ]);
    const used = credits.results.reduce((sum, day) => sum + day.usedCredits.reduce((s, c) => s + c.amount, 0), 0);
    const bars = usage.byDay.map((d) => {
      const date = new Date(`${d.date}T00:00:00Z`);
      return {
        label: date.toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" }),
        short: date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" }),
        value: d.sessions,
      };
    });
    slot.replaceChildren(
      h(
        "div",
        { class: "stats" },
        stat("Sessions", formatNumber(usage.totalSessions)),
        stat("Time in calls", formatDuration(usage.totalSeconds)),
        stat("Average call", usage.avgDurationSeconds ? formatDuration(usage.avgDurationSeconds) : "—"),
        stat("Credits used", formatNumber(used), "sessions and avatar videos"),
      ),
      barChart({
        bars,
        id: "sessions-chart",
        valueName: "sessions",
        caption: `Sessions per day, last ${days} days (UTC): ${usage.totalSessions} in all.`,
        width: slot.clientWidth || 720,
      }),
    );
  } catch (error) {
    if (ctx.signal.aborted) return;
    slot.replaceChildren(message(describe(error), { title: "The usage could not be loaded." }));
  }
}

export async function organizationView(ctx) {
  ctx.title("Organisation");
  const summary = h("div", {}, loading("Loading your organisation…"));
  const usageSlot = h("div", { class: "usage" });
  const buttons = RANGES.map((days) =>
    h("button", { type: "button", class: "button segment", "aria-pressed": String(days === 30), dataset: { days: String(days) } }, `${days} days`),
  );
  ctx.main.append(
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Organisation"), h("p", { class: "lead" }, "Credits, limits and usage."))),
    summary,
    h(
      "section",
      { class: "panel", "aria-labelledby": "usage-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "usage-title" }, "Usage"), h("div", { class: "segmented", role: "group", "aria-label": "Period" }, buttons)),
      usageSlot,
    ),
  );
  focusHeading();
  for (const button of buttons) {
    button.addEventListener("click", () => {
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      usagePanel(ctx, Number(button.dataset.days), usageSlot);
    });
  }
  const usage = usagePanel(ctx, 30, usageSlot);
  try {
    const [org, rate] = await Promise.all([api.get("/organization", { signal: ctx.signal }), creditRate()]);
    const limits = org.tier.models?.[MODEL] || {};
    const today = org.usage.models?.[MODEL]?.dailyGenerations ?? 0;
    summary.replaceChildren(
      h(
        "section",
        { class: "panel", "aria-labelledby": "credits-title" },
        h("h2", { id: "credits-title" }, "Credits and limits"),
        h(
          "div",
          { class: "stats" },
          stat("Credit balance", formatNumber(org.creditBalance), `${rate} of a call`),
          stat(tierName(org.tier), `${formatNumber(limits.maxConcurrentGenerations ?? "—")} at once`, "concurrent sessions"),
          stat("Sessions today", `${formatNumber(today)} of ${formatNumber(limits.maxDailyGenerations ?? "—")}`, "daily limit (UTC)"),
          stat("Monthly credit spend", formatNumber(org.tier.maxMonthlyCreditSpend), "most credits per month"),
        ),
      ),
    );
  } catch (error) {
    if (!ctx.signal.aborted) summary.replaceChildren(message(describe(error), { title: "The organisation could not be loaded." }));
  }
  await usage;
}
