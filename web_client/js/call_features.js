// Wires the call page's features around the call itself: the host panel and live statistics (host only),
// what the host's controls do to this page, screen sharing, the recording indicator, the active
// speaker highlight and each tile's connection quality. Each listens to its own signaling messages; room.js
// only calls this once.

import { ConnectionQuality } from "./connection_quality.js";
import { HostPanel } from "./host_panel.js";
import { t } from "./i18n.js";
import { Moderation } from "./moderation.js";
import { Presence } from "./presence.js";
import { RecordingIndicator, SpeakerHighlight } from "./recording_indicator.js";
import { Roster } from "./roster.js";
import { ScreenShare } from "./screen_share.js";
import { SoundBars } from "./sound_bars.js";

export function startCallFeatures({ client, grid, signaling, localTile, leave, showStatus, hideStatus }) {
  // Our own tile is not in the grid's map of remote tiles.
  const tileOf = (participantId) =>
    participantId && participantId === client.participantId ? localTile : grid.tile(participantId);
  const controlsEnd = document.querySelector(".controls-end");
  const screenShare = new ScreenShare({
    client,
    grid,
    signaling,
    buttonsBox: document.querySelector(".control-buttons"),
    beforeButton: document.getElementById("leave"),
    report: (text) => showStatus(text, { bad: true }),
  });
  new Moderation({ callMedia: client.media, signaling, leave, showStatus, hideStatus, actionsBox: controlsEnd });
  const roster = new Roster(signaling); // one list of who is here for the presence line and the host panel
  new Presence({ roster, signaling, footer: document.querySelector("footer.controls"), tileOf });
  new RecordingIndicator(signaling);
  new SpeakerHighlight(signaling, grid, tileOf);
  new ConnectionQuality(signaling, grid, tileOf, t); // it cannot import i18n.js itself (node tests import it)
  const soundBars = new SoundBars({ client, grid, localTile });
  const hostPanel = new HostPanel({ roster, signaling, toggleBox: controlsEnd });
  return {
    // room.js offers every remote track here first: screen shares are shown large, not in a tile.
    claimTrack: (event) => screenShare.claim(event),
    teardown() {
      screenShare.close();
      hostPanel.close();
      soundBars.close();
    },
  };
}
