"""Keyboard use in Chromium: on every page Tab reaches every control, each with a focus ring; Enter/Space work."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize

from .conftest import HOST_PASSWORD, NewContext, participant_id, wait_for_tile
from .page_tour import visit_every_page
from .ui import open_prejoin

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DESKTOP: ViewportSize = {"width": 1280, "height": 720}
PHONE: ViewportSize = {"width": 390, "height": 844}
MAX_TABS = 80  # more presses than any page has controls: reaching the cap means focus never came back round

# Every control a person could operate: shown (not display:none / visibility:hidden, not in a hidden or inert
# subtree, with a box), enabled. A [tabindex="-1"] on a button is not an excuse: it would still be a button the
# keyboard cannot reach, so tabindex counts only for elements that are not controls by themselves. No control
# is excused: every one on these pages is meant for the keyboard too.
CONTROLS_JS = """
() => {
  const selector = 'button, a[href], input:not([type="hidden"]), select, textarea, summary, [tabindex]';
  const controls = [...document.querySelectorAll(selector)].filter((el) => {
    const control = el.matches('button, a[href], input, select, textarea, summary');
    if (!control && el.tabIndex < 0) return false;
    if (el.matches(':disabled') || el.closest('[inert]')) return false;
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0 && el.checkVisibility({visibilityProperty: true});
  });
  window.__kbControls = controls;
  return controls.length;
}
"""

# One Tab press's result: the focused element (null for the page itself), remembered for the comparison below,
# and whether it shows where the focus is.
FOCUSED_JS = """
() => {
  const seen = (window.__kbSeen = window.__kbSeen || []);
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const first = seen.length > 0 && seen[0] === el;
  if (!first) seen.push(el);
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== "none";
  return {first, index: seen.length - 1, ring: outline || shadow, focusVisible: el.matches(":focus-visible"),
          style: `outline ${style.outlineStyle} ${style.outlineWidth}, box-shadow ${style.boxShadow}`};
}
"""

# The controls Tab never reached, each by its test id or its name.
MISSED_JS = """
() => {
  const seen = new Set(window.__kbSeen || []);
  return window.__kbControls.filter((el) => !seen.has(el)).map((el) => window.__kbDescribe(el));
}
"""

DESCRIBE_JS = """
() => {
  window.__kbDescribe = (el) => {
    const name = el.getAttribute("aria-label") || el.getAttribute("title") || el.textContent.trim().slice(0, 40)
      || el.getAttribute("placeholder") || el.getAttribute("name") || "";
    return `<${el.tagName.toLowerCase()}> ${el.dataset.testid || el.id || "(no test id)"} "${name}"`;
  };
  window.__kbSeen = [];
}
"""

DESCRIBE_SEEN_JS = "(index) => window.__kbDescribe(window.__kbSeen[index])"
# The mic toggle, enabled (not switching) and showing `state`.
MIC_IS_JS = """
(state) => { const b = document.getElementById("toggle-mic"); return !b.disabled && b.dataset.state === state; }
"""
ACTIVE_TESTID_JS = "() => document.activeElement && document.activeElement.dataset.testid"
# Focus back on the page itself, as when it has just loaded: the next Tab starts from the top.
TO_TOP_JS = "() => { if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0); }"


async def tab_through(name: str, page: Page) -> list[str]:
    """Presses Tab from the top of `page` until focus comes round again; returns the problems found."""
    problems: list[str] = []
    await page.evaluate(DESCRIBE_JS)
    await page.evaluate(TO_TOP_JS)
    if await page.evaluate(CONTROLS_JS) == 0:
        problems.append(f"{name}: no control found at all (the page did not render?)")
    cycled = False
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        step: dict[str, Any] | None = await page.evaluate(FOCUSED_JS)
        if step is None:  # the page itself between its last control and its first
            continue
        if step["first"]:
            cycled = True
            break
        if not (step["ring"] and step["focusVisible"]):
            what = await page.evaluate(DESCRIBE_SEEN_JS, step["index"])
            problems.append(f"{name}: no focus ring on {what} ({step['style']}, "
                            f":focus-visible {step['focusVisible']})")
    if not cycled:
        problems.append(f"{name}: focus did not come back round within {MAX_TABS} Tab presses")
    # Counted again now that the tour is over: a control that only appeared while tabbing is a control too.
    await page.evaluate(CONTROLS_JS)
    for missed in await page.evaluate(MISSED_JS):
        problems.append(f"{name}: Tab never reaches {missed}")
    return problems


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["laptop", "phone"])
async def test_tab_reaches_every_control_with_a_visible_focus_ring(new_context: NewContext,
                                                                   viewport: ViewportSize) -> None:
    problems: list[str] = []
    checked: list[str] = []

    async def check(name: str, page: Page, user_data: set[str]) -> None:
        checked.append(name)
        if name == "join":
            # The device pickers stay disabled until the devices are listed: wait, so they are checked too.
            await page.wait_for_function("() => [...document.querySelectorAll('select')].every((s) => !s.disabled)")
        if name == "home":
            # "Create" stays disabled until the list has been fetched again with the new meeting: until then the
            # list may be redrawn (new buttons) while Tab walks through it.
            await page.get_by_test_id("create-meeting").and_(page.locator(":enabled")).wait_for()
        problems.extend(await tab_through(name, page))

    await visit_every_page(new_context, "en-US", check, viewport)
    assert checked == ["login", "home", "join", "call", "message"]
    assert problems == [], "keyboard focus problems:\n" + "\n".join(problems)


async def tab_to(page: Page, testid: str) -> None:
    """Presses Tab until the control `testid` has the focus (the way a keyboard user gets there)."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        if await page.evaluate(ACTIVE_TESTID_JS) == testid:
            return
    raise AssertionError(f"{MAX_TABS} Tab presses never reached {testid}")


async def test_enter_and_space_operate_the_controls(new_context: NewContext) -> None:
    # Login: type the credentials, Enter submits.
    host = await (await new_context(viewport=DESKTOP)).new_page()
    await host.goto("/login")
    await tab_to(host, "login-username")
    await host.keyboard.type("host")
    await tab_to(host, "login-password")
    await host.keyboard.type(HOST_PASSWORD)
    await host.keyboard.press("Enter")
    await host.wait_for_url(re.compile(r"/$"))

    # Home: Enter on "create meeting" opens the share panel; Enter on its "enter" link opens the call.
    await host.wait_for_function("() => window.homePage !== undefined")
    await host.get_by_test_id("create-meeting").and_(host.locator(":enabled")).wait_for()
    await tab_to(host, "create-meeting")
    await host.keyboard.press("Enter")
    panel = host.get_by_test_id("share-panel")
    await panel.wait_for(state="visible")
    meeting_id = await host.get_by_test_id("share-meeting-id").inner_text()
    await tab_to(host, "enter-meeting")
    await host.keyboard.press("Enter")
    await host.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await participant_id(host)

    # Join page: Space on the mic toggle switches it; type a name, Enter joins.
    guest = await open_prejoin(await new_context(viewport=DESKTOP), meeting_id)
    await guest.wait_for_function(MIC_IS_JS, arg="on")  # the fake microphone has opened: the default
    await tab_to(guest, "toggle-mic")
    await guest.keyboard.press("Space")
    await guest.wait_for_function(MIC_IS_JS, arg="off")
    await tab_to(guest, "guest-name")
    await guest.keyboard.type("Olena")
    await guest.keyboard.press("Enter")
    await guest.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await wait_for_tile(host, await participant_id(guest))

    # Call: Space on the mic toggle switches it (its state and its name), and again switches it back.
    mic = host.get_by_test_id("toggle-mic")
    await host.wait_for_function(MIC_IS_JS, arg="on")
    label = await mic.get_attribute("aria-label")
    await tab_to(host, "toggle-mic")
    await host.keyboard.press("Space")
    await host.wait_for_function(MIC_IS_JS, arg="off")
    assert await mic.get_attribute("aria-label") != label
    await host.keyboard.press("Space")
    await host.wait_for_function(MIC_IS_JS, arg="on")

    # The host panel: Space on its toggle opens it with the focus on its close button; Enter there closes it.
    toggle = host.get_by_test_id("toggle-host-panel")
    host_panel = host.get_by_test_id("host-panel")
    await tab_to(host, "toggle-host-panel")
    await host.keyboard.press("Space")
    await host_panel.wait_for(state="visible")
    assert await toggle.get_attribute("aria-expanded") == "true"
    assert await host.evaluate(ACTIVE_TESTID_JS) == "close-host-panel"
    await host.keyboard.press("Enter")
    await host_panel.wait_for(state="hidden")
    assert await toggle.get_attribute("aria-expanded") == "false"
    assert await host.evaluate(ACTIVE_TESTID_JS) == "toggle-host-panel"

    # Leave: Enter on it ends the call for this page.
    await tab_to(host, "leave")
    await host.keyboard.press("Enter")
    await host.get_by_test_id("left-view").wait_for(state="visible")
