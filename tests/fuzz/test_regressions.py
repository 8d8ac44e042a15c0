"""The crashes the fuzzers found, replayed from their saved inputs (corpus/*/crash-*) with the fixed answers."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

from mediaserver import control_protocol as proto
from signaling_gateway import messages
from signaling_gateway.bus import parse_event
from tests.fuzz.engine import CORPUS_ROOT, split_frames
from tests.fuzz.targets import _ClientRig, _ControlRig


def _input(target: str, name: str) -> bytes:
    return (CORPUS_ROOT / target / name).read_bytes()


def test_deeply_nested_json_from_a_browser_is_bad_json_not_a_recursion_error() -> None:
    with pytest.raises(messages.BadMessage) as refused:
        messages.parse_client_message(_input("client", "crash-deep-nesting.json").decode())
    assert refused.value.code == messages.ERR_BAD_JSON


def test_deeply_nested_json_on_the_bus_is_junk() -> None:
    assert parse_event(_input("bus_event", "crash-deep-nesting.json").decode()) is None


@pytest.mark.parametrize("name", ["crash-deep-nesting.json", "crash-infinite-port.json"])
def test_a_node_record_that_cannot_be_read_is_skipped(name: str) -> None:
    assert proto.NodeRecord.from_json(_input("node_record", name)) is None


def _replies(stream: bytes) -> list[dict[str, object]]:
    return [msgpack.unpackb(body, raw=False) for body in split_frames(_ControlRig().serve(stream))]


def test_a_request_whose_method_is_a_list_is_answered_bad_request() -> None:
    # It used to raise TypeError in the control server's read loop: the gateway's connection died unanswered.
    [reply] = _replies(_input("control", "crash-list-method.bin"))
    assert reply == {"id": 1, "error": {"code": proto.ERR_BAD_REQUEST, "message": reply["error"]["message"]}}  # type: ignore[index]


def test_create_room_with_unhashable_codecs_is_bad_request_not_internal() -> None:
    [reply] = _replies(_input("control", "crash-unhashable-codecs.bin"))
    assert reply["error"]["code"] == proto.ERR_BAD_REQUEST  # type: ignore[index]


def test_video_prefs_with_an_infinite_width_are_bad_request_not_internal() -> None:
    replies = _replies(_input("control", "crash-infinite-width.bin"))
    codes = [reply["error"]["code"] if "error" in reply else None for reply in replies]  # type: ignore[index]
    assert codes == [None, None, proto.ERR_BAD_REQUEST]


def test_the_gateway_skips_a_response_whose_id_is_a_list_and_reads_on() -> None:
    rig = _ClientRig()

    async def read() -> bool:
        reader = asyncio.StreamReader()
        reader.feed_data(_input("control_client", "crash-list-id.bin"))
        reader.feed_eof()
        future = asyncio.get_running_loop().create_future()
        rig.client._pending = {1: future}
        with pytest.raises(asyncio.IncompleteReadError):  # the end of the stream, after both frames
            await rig.client._read_loop(reader)
        return future.done()

    assert rig.loop.run_until_complete(read()), "the valid response after the broken one was not delivered"
