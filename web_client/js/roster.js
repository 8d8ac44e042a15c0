// Who is in the call, by participant id, kept from the signaling messages in one place for the features that show it.

// Pure (no DOM, no i18n.js), so node tests can import it.
export class Roster {
  constructor(signaling) {
    this.self = null; // {id, name, host}: us, from the latest welcome
    this.people = new Map(); // participant id -> {name, host, audio, video, audioBlocked, videoBlocked}: the others
    this.listeners = [];
    // Registered after room.js's own handlers (call_features.js starts us later), so tiles exist when we tell.
    signaling
      .on("welcome", (message) => this.welcome(message))
      .on("participant_joined", (message) => this.joined(message.participant))
      .on("participant_left", (message) => this.left(message.participant_id))
      .on("participant_media", (message) =>
        this.update(message.participant_id, { audio: message.audio, video: message.video }))
      .on("moderation", (message) =>
        this.update(message.participant_id, {
          audioBlocked: message.audio_blocked,
          videoBlocked: message.video_blocked,
        }));
  }

  // `listener(change)`, change one of {kind: "welcome", first}, {kind: "joined", id, known},
  // {kind: "left", id, person} (person: as it was, or undefined), {kind: "updated", id, fields}.
  subscribe(listener) {
    this.listeners.push(listener);
    return this;
  }

  get(id) {
    return this.people.get(id);
  }

  // A welcome lists everyone (again, after a reconnect); the blocks it does not carry stay as they were.
  welcome(message) {
    const first = this.self === null;
    this.self = { id: message.participant_id, name: message.name, host: Boolean(message.is_host) };
    this.people = new Map(message.participants.map((p) => [p.id, this.merged(p.id, viewOf(p))]));
    this.emit({ kind: "welcome", first });
  }

  joined(participant) {
    const known = this.people.has(participant.id);
    this.people.set(participant.id, this.merged(participant.id, viewOf(participant)));
    this.emit({ kind: "joined", id: participant.id, known });
  }

  left(id) {
    const person = this.people.get(id);
    this.people.delete(id);
    this.emit({ kind: "left", id, person });
  }

  // Only for someone we know: the gateway announces a join before any state of that participant, so state for
  // an unknown id is stale (it left) and must not bring back a nameless person.
  update(id, fields) {
    const person = this.people.get(id);
    if (!person) return;
    const given = Object.entries(fields).filter(([key, value]) => key in person && value !== undefined);
    Object.assign(person, Object.fromEntries(given));
    this.emit({ kind: "updated", id, fields: Object.fromEntries(given) });
  }

  merged(id, view) {
    return { audioBlocked: false, videoBlocked: false, ...this.people.get(id), ...view };
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }
}

function viewOf(participant) {
  return {
    name: participant.name,
    host: Boolean(participant.host),
    audio: Boolean(participant.audio),
    video: Boolean(participant.video),
  };
}
