// Pin / spotlight: one remote tile fills the stage and the others shrink to a strip. The layout is pure
// CSS (`.spotlight` on the grid, `.pinned` on the tile); the tile-size reports follow from the new sizes,
// so the pinned participant's video is forwarded at the high simulcast layer without any extra message.
import { t } from "./i18n.js";

export class Spotlight {
  // `tileOf(participantId)` returns the remote tile element or null.
  constructor(container, tileOf) {
    this.container = container;
    this.tileOf = tileOf;
    this.pinnedId = null;
  }

  // Adds the pin button to a remote tile (once), in its `.tile-actions` box when it has one.
  addButton(tile, participantId) {
    if (tile.querySelector('[data-testid="pin-participant"]')) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "pin-button";
    button.dataset.testid = "pin-participant";
    button.addEventListener("click", () => this.toggle(participantId));
    (tile.querySelector(".tile-actions") || tile).appendChild(button);
    this.render();
  }

  toggle(participantId) {
    this.pinnedId = this.pinnedId === participantId ? null : participantId;
    this.render();
  }

  // A participant who leaves cannot stay pinned.
  forget(participantId) {
    if (this.pinnedId === participantId) this.toggle(participantId);
  }

  render() {
    const pinnedTile = this.pinnedId === null ? null : this.tileOf(this.pinnedId);
    if (this.pinnedId !== null && !pinnedTile) this.pinnedId = null;
    this.container.classList.toggle("spotlight", pinnedTile !== null);
    for (const button of this.container.querySelectorAll('[data-testid="pin-participant"]')) {
      const tile = button.closest(".tile");
      const pinned = tile === pinnedTile;
      tile.classList.toggle("pinned", pinned);
      button.setAttribute("aria-pressed", String(pinned));
      button.textContent = pinned ? t("room.spotlight.unpin") : t("room.spotlight.pin");
      button.title = pinned ? t("room.spotlight.unpin_hint") : t("room.spotlight.pin_hint");
    }
  }
}
