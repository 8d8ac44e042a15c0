"""Builders of the server -> client messages of the host controls (types and parsing are in messages.py)."""

from __future__ import annotations

from typing import Any

from . import messages as m


def force_mute(kind: str) -> dict[str, Any]:
    """To the guest the host muted (audio) or turned the camera off for (video): it may not turn it back on."""
    return {"type": m.FORCE_MUTE, "kind": kind, "allowed_to_unmute": False}


def unmute_allowed(kind: str) -> dict[str, Any]:
    """To that guest once the host lifts the block: its own button works again (the host never turns it on)."""
    return {"type": m.UNMUTE_ALLOWED, "kind": kind}


def unmute_requested(participant_id: str, name: str, kind: str) -> dict[str, Any]:
    """To the hosts: a blocked guest asks to turn its microphone or camera back on."""
    return {"type": m.UNMUTE_REQUESTED, "participant_id": participant_id, "name": name, "kind": kind}


def moderation(participant_id: str, audio_blocked: bool, video_blocked: bool) -> dict[str, Any]:
    """To the hosts: what is blocked for one participant now (drives the host panel's buttons)."""
    return {
        "type": m.MODERATION,
        "participant_id": participant_id,
        "audio_blocked": audio_blocked,
        "video_blocked": video_blocked,
    }


def kicked() -> dict[str, Any]:
    return {"type": m.KICKED, "message": "The host removed you from this meeting."}


def meeting_ended() -> dict[str, Any]:
    return {"type": m.MEETING_ENDED, "message": "The host ended this meeting for everyone."}


def meeting_locked(locked: bool) -> dict[str, Any]:
    return {"type": m.MEETING_LOCKED, "locked": locked}


def recording(active: bool) -> dict[str, Any]:
    return {"type": m.RECORDING, "active": active}


def active_speaker(participant_id: str) -> dict[str, Any]:
    return {"type": m.ACTIVE_SPEAKER, "participant_id": participant_id}


def screen_share(participant_id: str, track_id: str, active: bool) -> dict[str, Any]:
    """A participant's screen share started or stopped; the video arrives as the track `track_id`."""
    return {"type": m.SCREEN_SHARE, "participant_id": participant_id, "track_id": track_id, "active": active}


def call_stats(duration_s: float, participants: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": m.CALL_STATS, "duration_s": round(duration_s, 1), "participants": participants}
