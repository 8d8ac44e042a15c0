"""Layer choice from tile sizes, and the loss-driven step-down controller with its hysteresis."""

from __future__ import annotations

from mediaserver.rooms.downlink import DownlinkController
from mediaserver.rooms.layer_selector import Quality, choose, ladder, layer_for_tile, layer_widths


def test_unknown_layer_widths_are_derived_from_the_known_ones() -> None:
    assert layer_widths([0, 0, 0]) == [320, 640, 1280]
    assert layer_widths([0, 960, 0]) == [480, 960, 1920]
    assert layer_widths([320, 640, 1280]) == [320, 640, 1280]
    assert layer_widths([0]) == [1280]


def test_tile_size_picks_the_lowest_layer_that_covers_it() -> None:
    widths = [320, 640, 1280]
    assert layer_for_tile(widths, 256, 144) == 0  # a tile of a 5x4 grid on 1280x720
    assert layer_for_tile(widths, 400, 225) == 0  # 3/4 of the tile is covered by 320
    assert layer_for_tile(widths, 600, 338) == 1
    assert layer_for_tile(widths, 1200, 675) == 2  # pinned
    assert layer_for_tile(widths, 3000, 2000) == 2
    assert layer_for_tile(widths, 100, 600) == 2  # a tall tile needs the width its height implies


def test_ladder_steps_temporal_before_spatial() -> None:
    assert ladder(2, temporal=True) == [Quality(2, 2), Quality(2, 1), Quality(1, 2), Quality(1, 1),
                                         Quality(0, 2), Quality(0, 1), Quality(0, 0)]
    assert ladder(1, temporal=False) == [Quality(1, 2), Quality(0, 2)]


def test_choose_clamps_to_the_publishers_live_layers() -> None:
    assert choose(2, 0, True, highest_live=2) == Quality(2, 2)
    assert choose(2, 2, True, highest_live=2) == Quality(1, 2)
    assert choose(2, 0, True, highest_live=1) == Quality(1, 2)  # the encoder dropped f
    assert choose(2, 0, True, highest_live=-1) == Quality(2, 2)  # nothing seen yet: keep the wish
    assert choose(0, 50, True, highest_live=2) == Quality(0, 0)  # steps beyond the ladder stop at the floor


def test_loss_steps_down_after_two_lossy_reports_and_up_after_a_clean_hold() -> None:
    ctl = DownlinkController("p")
    t = 0.0
    assert ctl.on_sample(0.15, t) == 0
    t += 1
    assert ctl.on_sample(0.15, t) == -1
    assert ctl.steps_down == 1
    t += 1
    assert ctl.on_sample(0.15, t) == 0  # needs two fresh lossy reports again
    t += 1
    assert ctl.on_sample(0.15, t) == -1
    assert ctl.steps_down == 2
    last_down = t
    # Clean from now on: nothing until the hold after the last step down has passed.
    ups = []
    while ctl.steps_down:
        t += 1
        if ctl.on_sample(0.0, t) == 1:
            ups.append(t)
        assert t < 60
    assert ups[0] - last_down >= 8
    assert ups[1] - ups[0] >= 3
    assert ctl.decisions_down == 2 and ctl.decisions_up == 2


def test_moderate_loss_neither_steps_down_nor_recovers() -> None:
    ctl = DownlinkController("p")
    ctl.steps_down = 1
    for t in range(100):
        assert ctl.on_sample(0.05, float(t)) == 0
    assert ctl.steps_down == 1


def test_alternating_loss_does_not_flap() -> None:
    ctl = DownlinkController("p")
    changes = sum(ctl.on_sample(0.2 if t % 2 else 0.0, float(t)) != 0 for t in range(60))
    assert changes == 0, "isolated lossy reports never make two in a row"
