// Invitation links for the share panel: e-mail and SMS drafts that carry the meeting link, in the page's language.

import { t } from "./i18n.js";

export function mailtoHref(link, { until = "" } = {}) {
  const subject = t("share.mail.subject");
  const lines = [t("share.mail.invited"), "", t("share.mail.join_here", { link }), "", t("share.mail.how")];
  if (until) lines.push(t("share.mail.until", { until }));
  // encodeURIComponent, not URLSearchParams: mail clients want %20 for spaces, not "+".
  return `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(lines.join("\r\n"))}`;
}

// "sms:?&body=" is the form both iOS ("sms:&body=") and Android ("sms:?body=") understand.
export function smsHref(link) {
  return `sms:?&body=${encodeURIComponent(t("share.sms.body", { link }))}`;
}
