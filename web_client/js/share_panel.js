// The host's share panel for one meeting: link, copy with feedback, e-mail, SMS, QR code and expiry.

import { formatClock, watchExpiry } from "./expiry.js";
import { t } from "./i18n.js";
import { setIcon } from "./icons.js";
import { mailtoHref, smsHref } from "./share_links.js";

const FEEDBACK_MS = 2500;

export class SharePanel {
  constructor(root) {
    this.root = root;
    this.link = root.querySelector('[data-testid="meeting-link"]');
    this.copyButton = root.querySelector('[data-testid="copy-link"]');
    this.copyStatus = root.querySelector('[data-testid="copy-status"]');
    this.email = root.querySelector('[data-testid="share-email"]');
    this.sms = root.querySelector('[data-testid="share-sms"]');
    this.qr = root.querySelector('[data-testid="qr-code"]');
    this.expiry = root.querySelector('[data-testid="link-expiry"]');
    this.enter = root.querySelector('[data-testid="enter-meeting"]');
    this.meetingId = root.querySelector('[data-testid="share-meeting-id"]');
    this.stopExpiry = null;
    this.feedbackTimer = null;
    this.copyButton.addEventListener("click", () => this.copy());
    // One click selects the whole link, for people who copy by hand.
    this.link.addEventListener("focus", () => this.link.select());
  }

  // `meeting` is an entry of the meetings API: {id, url, share_url, qr_url, expires_at, ...}.
  show(meeting) {
    const link = meeting.share_url;
    this.root.dataset.meetingId = meeting.id;
    this.meetingId.textContent = meeting.id;
    this.link.value = link;
    const until = formatClock(new Date(meeting.expires_at), new Date());
    this.email.href = mailtoHref(link, { until });
    this.sms.href = smsHref(link);
    this.qr.src = meeting.qr_url;
    this.enter.href = meeting.url;
    if (this.stopExpiry) this.stopExpiry();
    this.stopExpiry = watchExpiry(this.expiry, meeting.expires_at);
    this.resetFeedback();
    this.root.hidden = false;
    // Restart the entrance animation, so switching meetings is visible too.
    this.root.classList.remove("rise");
    void this.root.offsetWidth;
    this.root.classList.add("rise");
  }

  async copy() {
    const link = this.link.value;
    let copied = false;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch {
      // No async clipboard (insecure page, old browser, denied): fall back to copying the selected text.
      this.link.focus();
      this.link.select();
      copied = document.execCommand && document.execCommand("copy");
    }
    this.feedback(copied ? t("share.copied_status") : t("share.copy_by_hand"), copied);
  }

  feedback(message, copied) {
    clearTimeout(this.feedbackTimer);
    this.copyStatus.textContent = message;
    this.copyStatus.classList.toggle("bad", !copied);
    this.copyButton.classList.toggle("copied", copied);
    this.copyButton.querySelector(".copy-label").textContent = copied ? t("share.copied") : t("share.copy");
    setIcon(this.copyButton.querySelector(".button-icon"), copied ? "check" : "copy");
    this.feedbackTimer = setTimeout(() => this.resetFeedback(), FEEDBACK_MS);
  }

  resetFeedback() {
    clearTimeout(this.feedbackTimer);
    this.copyStatus.textContent = "";
    this.copyButton.classList.remove("copied");
    this.copyButton.querySelector(".copy-label").textContent = t("share.copy");
    setIcon(this.copyButton.querySelector(".button-icon"), "copy");
  }
}
