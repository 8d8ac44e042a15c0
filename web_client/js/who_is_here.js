// "Who is already here" on the pre-join page: polls GET /api/meetings/{id}/here (the first names and the count)
// and says it in a sentence. The words come in as `say` (the page module has the catalog).

const POLL_MS = 4000;

export class WhoIsHere {
  // `say({names, count})` -> the sentence to show.
  constructor({ element, meetingId, say }) {
    this.element = element;
    this.url = `/api/meetings/${encodeURIComponent(meetingId)}/here`;
    this.say = say;
    this.timer = null;
  }

  start() {
    if (this.timer !== null) return;
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async poll() {
    if (document.hidden) return; // a background tab need not ask
    let body;
    try {
      const response = await fetch(this.url, { cache: "no-store" });
      if (response.status === 404) {
        this.stop(); // the meeting is gone: joining will say so
        this.element.hidden = true;
        return;
      }
      if (!response.ok) return; // rate-limited or the store is down: keep the last answer, ask again later
      body = await response.json();
    } catch {
      return; // offline for a moment
    }
    const text = this.say({ names: body.names || [], count: body.count || 0 });
    if (this.element.textContent !== text) this.element.textContent = text; // textContent: names are never HTML
    this.element.dataset.count = String(body.count || 0);
    this.element.hidden = false;
  }
}
