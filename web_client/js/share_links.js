// Invitation links for the share panel: e-mail and SMS drafts that carry the meeting link.

export function mailtoHref(link, { until = "" } = {}) {
  const subject = "Join my video meeting";
  const lines = [
    "You're invited to a video meeting.",
    "",
    `Join here: ${link}`,
    "",
    "Open the link in your browser, type your name and join: no account or app needed.",
  ];
  if (until) lines.push(`The link works until ${until}.`);
  // encodeURIComponent, not URLSearchParams: mail clients want %20 for spaces, not "+".
  return `mailto:?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(lines.join("\r\n"))}`;
}

// "sms:?&body=" is the form both iOS ("sms:&body=") and Android ("sms:?body=") understand.
export function smsHref(link) {
  return `sms:?&body=${encodeURIComponent(`Join my video meeting: ${link}`)}`;
}
