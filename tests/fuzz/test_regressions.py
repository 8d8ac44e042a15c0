"""The crashes the fuzzers found, replayed from their saved inputs (corpus/*/crash-*) with the fixed answers."""

from __future__ import annotations

import pytest

from mediaserver import control_protocol as proto
from signaling_gateway import messages
from signaling_gateway.bus import parse_event
from tests.fuzz.engine import CORPUS_ROOT


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
