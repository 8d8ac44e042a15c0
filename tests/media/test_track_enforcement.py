"""Host mute / video-off is enforced in the media server: forwarding stops at once and resumes cleanly."""

from __future__ import annotations

import pytest

from signaling_gateway.media_client import MediaClient

from .aiortc_peer import AiortcParticipant, wait_until, wait_until_async

pytestmark = pytest.mark.slow


async def sent_to(control: MediaClient, room: str, subscriber: str, kind: str) -> int:
    subs = (await control.stats(room))["rooms"][room][subscriber]["subscriptions"]
    return sum(s["packets_sent"] for s in subs if s["kind"] == kind)


async def test_video_off_stops_forwarding_and_video_on_resumes(control: MediaClient) -> None:
    await control.create_room("ctl")
    alice = AiortcParticipant(control, "ctl", "alice")
    bob = AiortcParticipant(control, "ctl", "bob")
    try:
        await alice.join(publish=True)
        await bob.join(publish=False)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 10, 20, "call established")

        result = await control.request("set_track_enabled", {"room_id": "ctl", "participant_id": "alice",
                                                              "kind": "video", "enabled": False})
        assert result == {"tracks": 1}
        stopped_at = await sent_to(control, "ctl", "bob", "video")
        audio_before = await sent_to(control, "ctl", "bob", "audio")
        # Let 1.5 s of audio (75 packets) go through; meanwhile not one video packet may be forwarded.
        async def audio_flowed() -> bool:
            return await sent_to(control, "ctl", "bob", "audio") >= audio_before + 75

        await wait_until_async(audio_flowed, 10, "audio keeps flowing while video is off")
        assert await sent_to(control, "ctl", "bob", "video") == stopped_at, "video still forwarded"
        summary = (await control.stats("ctl"))["rooms"]["ctl"]["alice"]
        assert summary["muted"] == {"audio": False, "video": True}
        # The host panel's cheap form: the same summaries, without the per-subscription detail.
        brief = (await control.stats("ctl", summary=True))["rooms"]["ctl"]
        assert set(brief) == {"alice", "bob"}
        assert brief["alice"]["muted"] == {"audio": False, "video": True}
        assert set(brief["bob"]) == {"uplink", "downlink", "quality", "mos", "muted"}
        assert brief["bob"]["downlink"]["bitrate_bps"] > 0  # bob is hearing alice

        frames = bob.frames[("alice", "video")]
        await control.request("set_track_enabled", {"room_id": "ctl", "participant_id": "alice",
                                                    "kind": "video", "enabled": True})
        await wait_until(lambda: bob.frames[("alice", "video")] >= frames + 20, 10,
                         "bob decodes alice's video again after video-on")
    finally:
        await alice.close()
        await bob.close()


async def test_bad_track_control_requests_are_refused(control: MediaClient) -> None:
    await control.create_room("ctl2")
    await control.join("ctl2", "p", "P")
    for params in ({"kind": "screen", "enabled": False}, {"kind": "audio", "enabled": "no"}, {}):
        with pytest.raises(Exception) as info:
            await control.request("set_track_enabled", {"room_id": "ctl2", "participant_id": "p", **params})
        assert getattr(info.value, "code", None) == "bad_request"
