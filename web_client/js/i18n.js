// The page's language (the server set <html lang>) and its catalog: t(key, fields) for every visible word.
export const lang = document.documentElement.lang || "en";

async function loadCatalog(language) {
  try {
    const response = await fetch(`/static/i18n/${language}.json`);
    if (response.ok) return await response.json();
  } catch {
    // Offline or blocked: the keys show, which beats a page that does not start.
  }
  return {};
}

const catalog = await loadCatalog(lang);

/** The catalog's text for `key`, with {name} fields filled from `fields`. */
export function t(key, fields = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in fields ? String(fields[name]) : whole));
}

/** A date and time written the way the chosen language writes them. */
export function formatDateTime(date, options) {
  return new Intl.DateTimeFormat(lang, options).format(date);
}

/** A count in the language's plural form: keys `${key}.one`, `.few`, `.many`, `.other` (Ukrainian has all four). */
export function plural(key, count, fields = {}) {
  const form = new Intl.PluralRules(lang).select(count);
  const chosen = catalog[`${key}.${form}`] !== undefined ? `${key}.${form}` : `${key}.other`;
  return t(chosen, { count, ...fields });
}
