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

// Letters, digits, punctuation and symbols draw something, except these blank ones (Hangul fillers, blank Braille).
const BLANKS = new Set(["\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"]);
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;
const HOST_WORD = /(?<![\p{L}\p{N}])host(?![\p{L}\p{N}])/u;

function isVisible(ch) {
  return VISIBLE.test(ch) && !BLANKS.has(ch);
}

// "host" as a word in any case or width: only the real host gets the badge.
function claimsHost(name) {
  const folded = Array.from(name.normalize("NFKC").toLowerCase())
    .filter((ch) => isVisible(ch) || /\s/u.test(ch))
    .join("");
  return HOST_WORD.test(folded);
}

// What is wrong with the name as a catalog key and fields (the same keys as the server's), or null when it is fine.
export function nameProblemKey(raw, max = MAX_NAME_CHARS) {
  const name = cleanName(raw);
  if (!name) return { key: "name.error.empty", fields: {} };
  if (nameLength(name) > max) return { key: "name.error.too_long", fields: { max } };
  if (!Array.from(name).some(isVisible)) return { key: "name.error.invisible", fields: {} };
  if (claimsHost(name)) return { key: "name.error.host", fields: {} };
  return null;
}

const ENGLISH = {
  "name.error.empty": "Please enter your name.",
  "name.error.too_long": "Your name can be at most {max} characters long.",
  "name.error.invisible": "Please enter a name people can see.",
  "name.error.host": "Only the host can be called host: please choose another name.",
};

// The English message to show, or "" when the name is fine (pages translate nameProblemKey with t()).
export function nameProblem(raw, max = MAX_NAME_CHARS) {
  const problem = nameProblemKey(raw, max);
  return problem ? ENGLISH[problem.key].replace("{max}", String(max)) : "";
}
