// When a meeting link stops working, in words, with a warning in its last hour.

import { formatDateTime, t } from "./i18n.js";

export const WARN_WITHIN_MS = 60 * 60 * 1000;
const REFRESH_MS = 15 * 1000;

// "7 h 59 min", "45 min", "less than a minute" (abbreviated units: no plural forms needed).
export function formatRemaining(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return t("expiry.under_minute");
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return t("expiry.minutes", { minutes });
  return rest === 0 ? t("expiry.hours", { hours }) : t("expiry.hours_minutes", { hours, minutes: rest });
}

// The clock time, with the day when it is not today (a meeting created late in the evening).
export function formatClock(when, now) {
  const sameDay = when.toDateString() === now.toDateString();
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { weekday: "short", hour: "2-digit", minute: "2-digit" };
  return formatDateTime(when, options);
}

// {state: "ok" | "warning" | "expired", text}; `expiresAt` and `now` are milliseconds since the epoch.
export function describeExpiry(expiresAt, now) {
  const left = expiresAt - now;
  if (left <= 0) return { state: "expired", text: t("expiry.expired") };
  const clock = formatClock(new Date(expiresAt), new Date(now));
  const remaining = formatRemaining(left);
  if (left < WARN_WITHIN_MS) return { state: "warning", text: t("expiry.soon", { remaining, clock }) };
  return { state: "ok", text: t("expiry.until", { clock, remaining }) };
}

// Keeps `element` (with a `.expiry-text` inside) up to date; returns a function that stops it.
export function watchExpiry(element, expiresAtIso) {
  const expiresAt = Date.parse(expiresAtIso);
  const text = element.querySelector(".expiry-text") || element;
  element.dataset.expiresAt = expiresAtIso;
  const render = () => {
    const { state, text: words } = describeExpiry(expiresAt, Date.now());
    element.dataset.state = state;
    element.classList.toggle("warning", state !== "ok");
    text.textContent = words;
  };
  render();
  const timer = setInterval(render, REFRESH_MS);
  return () => clearInterval(timer);
}
