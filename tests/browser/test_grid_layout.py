"""The call grid laid out by the real page code for 1-20 tiles, on a desktop window and on a phone."""

from __future__ import annotations

import math
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize

from .conftest import ARTIFACTS, NewContext, create_meeting, host_in_new_meeting, login_host, participant_id

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

COUNTS = [1, 2, 4, 7, 12, 17, 20]
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 720},
    "phone": {"width": 390, "height": 844},
}
ASPECT = 16 / 9

GEOMETRY_JS = """
() => {
  const rect = (el) => {
    const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height};
  };
  const stage = document.querySelector(".stage");
  const grid = document.querySelector('[data-testid="participants-grid"]');
  const style = getComputedStyle(stage);
  return {
    viewport: {width: window.innerWidth, height: window.innerHeight},
    stage: rect(stage),
    area: {width: stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
           height: stage.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)},
    gap: parseFloat(getComputedStyle(grid).columnGap),
    grid: rect(grid),
    controls: rect(document.querySelector(".controls")),
    count: grid.dataset.count,
    tiles: [...grid.querySelectorAll(".tile")].map((el) => ({...rect(el), local: el.classList.contains("local")})),
    selfView: grid.dataset.selfView,
  };
}
"""


def best_tile_width(count: int, width: float, height: float, gap: float) -> int:
    """The widest 16:9 tile that fits `count` tiles in the area, over every column count (independent of JS)."""
    best = 0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        fit = min((width - gap * (cols - 1)) / cols, (height - gap * (rows - 1)) / rows * ASPECT)
        best = max(best, math.floor(fit))
    return best


def check_layout(geometry: dict[str, Any], count: int, where: str) -> None:
    tiles = geometry["tiles"]
    viewport, controls, grid = geometry["viewport"], geometry["controls"], geometry["grid"]
    assert geometry["count"] == str(count) and len(tiles) == count, where
    eps = 0.5
    if geometry["selfView"] == "corner":
        # A phone: our tile is a small picture in the stage's corner; the others are the grid.
        assert geometry["viewport"]["width"] <= 600 and count >= 2, where
        (mine,) = [tile for tile in tiles if tile["local"]]
        stage = geometry["stage"]
        assert mine["width"] * mine["height"] < 0.1 * stage["width"] * stage["height"], (where, mine)
        assert stage["left"] - eps <= mine["left"] and mine["right"] <= stage["right"] + eps, (where, mine)
        assert stage["top"] - eps <= mine["top"] and mine["bottom"] <= stage["bottom"] + eps, (where, mine)
        tiles, count = [tile for tile in tiles if not tile["local"]], count - 1
        if count == 1:  # the one other person fills the stage
            (theirs,) = tiles
            area = geometry["area"]  # the stage inside its padding
            assert abs(theirs["width"] - area["width"]) <= 1 and abs(theirs["height"] - area["height"]) <= 1, where
            return
    else:
        assert geometry["viewport"]["width"] > 600 or count == 1, where
    for tile in tiles:
        # Inside the viewport and above the controls bar: nothing overflows or hides behind it.
        assert tile["left"] >= -eps and tile["top"] >= -eps, (where, tile)
        assert tile["right"] <= viewport["width"] + eps, (where, tile)
        assert tile["bottom"] <= controls["top"] + eps, (where, tile, controls)
        assert abs(tile["height"] - tile["width"] / ASPECT) <= 1, (where, tile)  # 16:9, to the pixel
    for i, a in enumerate(tiles):
        for b in tiles[i + 1 :]:
            overlap = min(a["right"], b["right"]) - max(a["left"], b["left"]) > eps and (
                min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > eps
            )
            assert not overlap, (where, a, b)

    rows: dict[int, list[dict[str, float]]] = {}
    for tile in tiles:
        rows.setdefault(round(tile["top"]), []).append(tile)
    ordered = [sorted(rows[top], key=lambda t: t["left"]) for top in sorted(rows)]
    cols = max(len(row) for row in ordered)
    # Every row full but the last, and no empty row: exactly ceil(count / cols) rows.
    assert len(ordered) == math.ceil(count / cols), (where, [len(r) for r in ordered])
    assert all(len(row) == cols for row in ordered[:-1]), (where, [len(r) for r in ordered])
    # The block of tiles is centered in the stage, and a shorter last row is centered under the others.
    stage = geometry["stage"]
    top_space = ordered[0][0]["top"] - stage["top"]
    bottom_space = stage["bottom"] - ordered[-1][0]["bottom"]
    assert abs(top_space - bottom_space) <= 2, (where, top_space, bottom_space)
    last = ordered[-1]
    left_space = last[0]["left"] - grid["left"]
    right_space = grid["right"] - last[-1]["right"]
    assert abs(left_space - right_space) <= 1, (where, left_space, right_space)
    # As large as the area allows at 16:9 (the best over every column count).
    area = geometry["area"]
    expected = best_tile_width(count, area["width"], area["height"], geometry["gap"])
    assert abs(tiles[0]["width"] - expected) <= 1, (where, tiles[0]["width"], expected)


async def fill(page: Page, count: int) -> dict[str, Any]:
    filled = await page.evaluate("(n) => window.meetingClient.grid.debugFill(n)", count)
    assert filled == count
    await page.wait_for_function(
        """(n) => { const g = document.querySelector('[data-testid="participants-grid"]');
                    return g.dataset.count === String(n) && g.querySelectorAll('.tile').length === n; }""",
        arg=count,
    )
    geometry = await page.evaluate(GEOMETRY_JS)
    assert isinstance(geometry, dict)
    return geometry


async def test_the_grid_lays_out_every_head_count(new_context: NewContext) -> None:
    page = await (await new_context(VIEWPORTS["desktop"])).new_page()
    await page.emulate_media(reduced_motion="reduce")
    await login_host(page)
    await create_meeting(page)
    await participant_id(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in VIEWPORTS.items():
        await page.set_viewport_size(viewport)
        for count in COUNTS:
            geometry = await fill(page, count)
            check_layout(geometry, count, f"{name} {count}")
            await page.screenshot(path=str(ARTIFACTS / f"grid-{name}-{count:02d}.png"))


async def test_the_layout_follows_the_window(new_context: NewContext) -> None:
    page, _ = await host_in_new_meeting(new_context, viewport=VIEWPORTS["desktop"])
    await participant_id(page)
    await fill(page, 6)
    wide = await page.get_by_test_id("participants-grid").get_attribute("data-cols")
    await page.set_viewport_size({"width": 500, "height": 900})
    await page.wait_for_function(
        "(cols) => document.querySelector('[data-testid=\"participants-grid\"]').dataset.cols !== cols", arg=wide
    )
    check_layout(await page.evaluate(GEOMETRY_JS), 6, "resized to 500x900")


async def test_the_layout_math_is_optimal_for_every_count_and_shape(new_context: NewContext) -> None:
    """layout.js itself, for all 1-20 counts on several area shapes (the page test above covers the CSS)."""
    page = await (await new_context()).new_page()
    await page.goto("/login")  # any page of the origin, to import the module from
    areas = [(1264, 622), (374, 716), (1904, 980), (800, 800), (640, 200)]
    results = await page.evaluate(
        """async (areas) => {
             const { bestLayout } = await import("/static/js/layout.js");
             const out = [];
             for (const [w, h] of areas) {
               for (let n = 1; n <= 20; n += 1) out.push([w, h, n, bestLayout(n, w, h, {gap: 8})]);
             }
             return out;
           }""",
        areas,
    )
    for width, height, count, layout in results:
        where = f"{count} tiles in {width}x{height}"
        assert layout["cols"] * layout["rows"] >= count > (layout["rows"] - 1) * layout["cols"], where
        assert layout["width"] <= width and layout["height"] <= height, (where, layout)
        assert layout["tileWidth"] == best_tile_width(count, width, height, 8), (where, layout)
        assert layout["tileHeight"] == math.floor(layout["tileWidth"] / ASPECT), (where, layout)
