// Guest name rules on the page, the same as the gateway's names.py (which has the last word).

export const MAX_NAME_CHARS = 40;

// The name as the gateway will keep it: NFC, inner whitespace collapsed, trimmed.
export function cleanName(raw) {
  return raw.normalize("NFC").replace(/\s+/gu, " ").trim();
}

// Code points, as Python's len() counts them (a plain .length counts an emoji twice).
export function nameLength(name) {
  return Array.from(name).length;
}

// The message to show, or "" when the name is fine.
export function nameProblem(raw, max = MAX_NAME_CHARS) {
  const name = cleanName(raw);
  if (!name) return "Please enter your name.";
  if (nameLength(name) > max) return `Your name can be at most ${max} characters long.`;
  return "";
}
