// Camera and microphone capture, and starting playback within the browser's autoplay rules.

export async function getLocalMedia() {
  const attempts = [
    { video: true, audio: true },
    { audio: true, video: false },
    { video: true, audio: false },
  ];
  let lastError = null;
  for (const constraints of attempts) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), error: null };
    } catch (err) {
      lastError = err;
    }
  }
  return { stream: null, error: lastError };
}

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
