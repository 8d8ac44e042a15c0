// Starting playback within the browser's autoplay rules (capture is in local_media.js).

// Resolves true when the element plays with sound, false when it had to be muted to play at all.
export async function playVideo(video) {
  try {
    await video.play();
    return true;
  } catch (err) {
    if (err.name === "AbortError") return true; // a newer srcObject replaced this one; that play wins
    if (err.name !== "NotAllowedError" || video.muted) return true;
    video.muted = true;
    await video.play().catch(() => {});
    return false;
  }
}
