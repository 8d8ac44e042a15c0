// The pre-join microphone level: a WebAudio AnalyserNode on the preview's audio track, shown as a bar whose
// data-level (0..1) a test (or a curious person) can read. No track (the mic is off): the level is 0.

const INTERVAL_MS = 100;
const DECAY = 0.8; // a peak falls back over ~1 s, so a short sound stays visible long enough to be seen
const GAIN = 4; // speech RMS is ~0.05-0.25 of full scale: scaled up so a normal voice fills most of the bar

export class MicMeter {
  constructor(element) {
    this.element = element;
    this.fill = element.querySelector(".mic-level-fill");
    this.context = null;
    this.source = null;
    this.analyser = null;
    this.track = null;
    this.level = 0;
    this.samples = null;
    this.timer = null;
    // Browsers start an AudioContext suspended until the person interacts with the page: resume on the first
    // click or key (typing the name counts).
    const resume = () => this.context && this.context.state === "suspended" && this.context.resume();
    for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resume, { capture: true });
    this.show(0);
  }

  // Follows `track` (a live audio track or null); cheap to call on every render.
  follow(track) {
    if (track === this.track) return;
    this.detach();
    this.track = track;
    if (!track || typeof AudioContext === "undefined") {
      this.level = 0;
      this.show(0);
      return;
    }
    if (!this.context) this.context = new AudioContext();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.samples = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser); // not to the speakers: nobody wants to hear themselves
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
  }

  sample() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const value of this.samples) sum += value * value;
    const rms = Math.sqrt(sum / this.samples.length);
    this.level = Math.max(Math.min(1, rms * GAIN), this.level * DECAY);
    if (this.level < 0.005) this.level = 0;
    this.show(this.level);
  }

  show(level) {
    this.element.dataset.level = level.toFixed(3);
    this.element.setAttribute("aria-valuenow", String(Math.round(level * 100)));
    this.fill.style.transform = `scaleX(${level})`;
  }

  detach() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.source) this.source.disconnect();
    this.source = null;
    this.analyser = null;
    this.track = null;
  }

  close() {
    this.detach();
    this.show(0);
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
  }
}
