// The language switch: a button per language; the choice is remembered in a cookie the server reads.
import { lang, t } from "./i18n.js";

// i18n-keys: language.uk language.en
const LANGUAGES = ["uk", "en"];
const ONE_YEAR_S = 365 * 24 * 3600;

export function chooseLanguage(language) {
  document.cookie = `lang=${language}; path=/; max-age=${ONE_YEAR_S}; samesite=lax`;
  location.reload();
}

export function mountLanguageSwitch(container) {
  for (const language of LANGUAGES) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "language-option";
    button.lang = language;
    button.dataset.testid = `language-${language}`;
    button.textContent = t(`language.${language}`);
    button.setAttribute("aria-pressed", String(language === lang));
    button.addEventListener("click", () => {
      if (language !== lang) chooseLanguage(language);
    });
    container.append(button);
  }
}

for (const container of document.querySelectorAll("[data-language-switch]")) mountLanguageSwitch(container);
