// When a meeting link stops working, in words, with a warning in its last hour.

export const WARN_WITHIN_MS = 60 * 60 * 1000;
const REFRESH_MS = 15 * 1000;

// "7 h 59 min", "45 min", "less than a minute".
export function formatRemaining(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return "less than a minute";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${minutes} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

// The clock time, with the day when it is not today (a meeting created late in the evening).
export function formatClock(when, now) {
  const sameDay = when.toDateString() === now.toDateString();
  const options = sameDay
    ? { hour: "2-digit", minute: "2-digit" }
    : { weekday: "short", hour: "2-digit", minute: "2-digit" };
  return when.toLocaleString(undefined, options);
}

// {state: "ok" | "warning" | "expired", text}; `expiresAt` and `now` are milliseconds since the epoch.
export function describeExpiry(expiresAt, now) {
  const left = expiresAt - now;
  if (left <= 0) return { state: "expired", text: "This link has expired: create a new meeting." };
  const clock = formatClock(new Date(expiresAt), new Date(now));
  if (left < WARN_WITHIN_MS) {
    return { state: "warning", text: `Link expires soon: in ${formatRemaining(left)}, at ${clock}.` };
  }
  return { state: "ok", text: `Link works until ${clock} (${formatRemaining(left)} left).` };
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
