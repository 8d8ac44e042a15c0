// The roster (web_client/js/roster.js) on its own, fed signaling messages through a stand-in channel.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Roster } from "../../web_client/js/roster.js";

function channel() {
  const handlers = new Map();
  return {
    on(type, handler) {
      handlers.set(type, handler);
      return this;
    },
    emit(message) {
      handlers.get(message.type)(message);
    },
  };
}

function started() {
  const signaling = channel();
  const roster = new Roster(signaling);
  const changes = [];
  roster.subscribe((change) => changes.push(change));
  return { signaling, roster, changes };
}

const ann = { id: "p-ann", name: "Ann", audio: true, video: false, host: false };
const host = { id: "p-host", name: "Hope", audio: false, video: true, host: true };

function welcome(participants, fields = {}) {
  return { type: "welcome", participant_id: "p-me", name: "Me", is_host: false, participants, ...fields };
}

test("a welcome lists us apart from the others, and says whether it is the first", () => {
  const { signaling, roster, changes } = started();
  signaling.emit(welcome([ann, host], { is_host: true }));
  assert.deepEqual(roster.self, { id: "p-me", name: "Me", host: true });
  assert.deepEqual([...roster.people.keys()], ["p-ann", "p-host"]);
  assert.deepEqual(roster.get("p-host"),
    { name: "Hope", host: true, audio: false, video: true, audioBlocked: false, videoBlocked: false });
  signaling.emit(welcome([ann]));
  assert.deepEqual(changes, [{ kind: "welcome", first: true }, { kind: "welcome", first: false }]);
  assert.deepEqual([...roster.people.keys()], ["p-ann"]);
});

test("joins and leaves: a second join of the same id is known, a leave hands over who it was", () => {
  const { signaling, roster, changes } = started();
  signaling.emit(welcome([]));
  signaling.emit({ type: "participant_joined", participant: ann });
  signaling.emit({ type: "participant_joined", participant: { ...ann, name: "Anna" } });
  assert.equal(roster.get("p-ann").name, "Anna");
  signaling.emit({ type: "participant_left", participant_id: "p-ann" });
  signaling.emit({ type: "participant_left", participant_id: "p-ann" });
  assert.equal(roster.people.size, 0);
  assert.deepEqual(changes.slice(1), [
    { kind: "joined", id: "p-ann", known: false },
    { kind: "joined", id: "p-ann", known: true },
    { kind: "left", id: "p-ann", person: { name: "Anna", host: false, audio: true, video: false,
      audioBlocked: false, videoBlocked: false } },
    { kind: "left", id: "p-ann", person: undefined },
  ]);
});

test("media and moderation update a known person; blocks outlive a reconnect's welcome", () => {
  const { signaling, roster, changes } = started();
  signaling.emit(welcome([ann]));
  signaling.emit({ type: "participant_media", participant_id: "p-ann", audio: false, video: true });
  signaling.emit({ type: "moderation", participant_id: "p-ann", audio_blocked: true, video_blocked: false });
  assert.deepEqual(changes.slice(1), [
    { kind: "updated", id: "p-ann", fields: { audio: false, video: true } },
    { kind: "updated", id: "p-ann", fields: { audioBlocked: true, videoBlocked: false } },
  ]);
  signaling.emit(welcome([{ ...ann, audio: false }]));
  assert.equal(roster.get("p-ann").audioBlocked, true);
});

test("state for someone unknown (already gone) adds no one; update keeps only the roster's fields", () => {
  const { signaling, roster, changes } = started();
  signaling.emit(welcome([ann]));
  signaling.emit({ type: "participant_media", participant_id: "p-gone", audio: true, video: true });
  signaling.emit({ type: "moderation", participant_id: "p-gone", audio_blocked: true, video_blocked: true });
  assert.equal(roster.people.size, 1);
  assert.equal(changes.length, 1);
  roster.update("p-ann", { audio: undefined, videoBlocked: true, quality: "good" });
  assert.deepEqual(changes[1], { kind: "updated", id: "p-ann", fields: { videoBlocked: true } });
  assert.equal(roster.get("p-ann").audio, true);
});
