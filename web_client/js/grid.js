// The tiles of the call page: the local tile plus one per remote participant, in a grid sized by head count.

export class Grid {
  constructor(container, template) {
    this.container = container;
    this.template = template;
    this.tiles = new Map();
    this.updateCount();
  }

  tile(participantId) {
    return this.tiles.get(participantId) || null;
  }

  // Idempotent: the same participant can be announced by welcome, by participant_joined, or first by a track.
  ensureTile(participantId, name) {
    let tile = this.tiles.get(participantId);
    if (!tile) {
      tile = this.template.content.firstElementChild.cloneNode(true);
      tile.dataset.participantId = participantId;
      this.tiles.set(participantId, tile);
      this.container.appendChild(tile);
      this.updateCount();
    }
    if (name) tile.querySelector(".name").textContent = name; // textContent: names are never HTML
    return tile;
  }

  video(participantId) {
    const tile = this.tiles.get(participantId);
    return tile ? tile.querySelector("video") : null;
  }

  removeTile(participantId) {
    const tile = this.tiles.get(participantId);
    if (!tile) return;
    const video = tile.querySelector("video");
    video.srcObject = null;
    tile.remove();
    this.tiles.delete(participantId);
    this.updateCount();
  }

  clear() {
    for (const id of [...this.tiles.keys()]) this.removeTile(id);
  }

  updateCount() {
    const count = this.tiles.size + 1; // + the local tile
    this.container.dataset.count = String(count);
    this.container.classList.toggle("large", count >= 10 && count <= 16);
    this.container.classList.toggle("huge", count > 16);
  }
}
