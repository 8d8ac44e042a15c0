// Video codec choice on the publisher side: `?codec=h264` (or vp8) on the call page restricts the camera to
// one codec, as Safari's preference for H.264 would; the media server otherwise picks from what we offer.

const KNOWN = { h264: "video/H264", vp8: "video/VP8" };

// The codec asked for in the page's query (`?codec=h264`), or null for the browser's own list.
export function codecFromQuery(search = window.location.search) {
  const wanted = (new URLSearchParams(search).get("codec") || "").toLowerCase();
  return KNOWN[wanted] || null;
}

// Offer only `mimeType` (and its retransmissions) on this transceiver; false when the browser cannot send it.
export function restrictCodec(transceiver, mimeType) {
  if (!mimeType || !transceiver.setCodecPreferences || !window.RTCRtpSender.getCapabilities) return false;
  const { codecs } = window.RTCRtpSender.getCapabilities("video");
  const chosen = codecs.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
  if (!chosen.length) return false;
  const rtx = codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx");
  transceiver.setCodecPreferences([...chosen, ...rtx]);
  return true;
}
