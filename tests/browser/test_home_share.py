"""Host home in Chromium: create a meeting, share it (link, clipboard, e-mail, SMS, QR, expiry), list, enter."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from tests.gateway.qr_decode import decode_gray

from .conftest import ARTIFACTS, NewContext, login_host, participant_id
from .ui import qr_pixels

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_the_share_panel_gives_a_working_link_copy_mail_sms_qr_and_expiry(new_context: NewContext) -> None:
    context = await new_context()
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    host = await context.new_page()
    await login_host(host)
    await host.get_by_test_id("create-meeting").click()
    panel = host.get_by_test_id("share-panel")
    await panel.wait_for(state="visible")

    link = await panel.get_by_test_id("meeting-link").input_value()
    base = host.url.rstrip("/")
    assert re.fullmatch(rf"{re.escape(base)}/join/[a-z2-9]{{4}}-[a-z2-9]{{4}}-[a-z2-9]{{4}}", link), link
    meeting_id = link.rsplit("/", 1)[1]

    # Copy: the clipboard holds the link and the button says so.
    await host.evaluate("navigator.clipboard.writeText('something else')")
    await panel.get_by_test_id("copy-link").click()
    await panel.get_by_test_id("copy-status").filter(has_text="copied").wait_for()
    assert "Copied" in (await panel.get_by_test_id("copy-link").text_content() or "")
    assert await host.evaluate("navigator.clipboard.readText()") == link

    email = await panel.get_by_test_id("share-email").get_attribute("href") or ""
    assert email.startswith("mailto:?subject=")
    assert link in unquote(email) and "body=" in email
    sms = await panel.get_by_test_id("share-sms").get_attribute("href") or ""
    assert sms.startswith("sms:")
    assert link in unquote(sms)

    # The QR code, as the browser draws it, decodes to the link.
    assert decode_gray(await qr_pixels(host), 400, 400) == [link]

    expiry = panel.get_by_test_id("link-expiry")
    expires_at = datetime.fromisoformat((await expiry.get_attribute("data-expires-at") or "").replace("Z", "+00:00"))
    left = expires_at - datetime.now(UTC)
    assert timedelta(hours=7, minutes=55) < left <= timedelta(hours=8)
    assert await expiry.get_attribute("data-state") == "ok"
    assert re.search(r"works until .+\(7 h 5\d min left\)", await expiry.text_content() or "")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await host.screenshot(path=str(ARTIFACTS / "home-share-panel.png"), full_page=True)

    # The live meetings list has it; entering from there opens the call.
    item = host.locator(f'[data-testid="meeting-item"][data-meeting-id="{meeting_id}"]')
    await item.wait_for()
    await item.get_by_test_id("enter-meeting").click()
    await host.wait_for_url(re.compile(rf"/room/{meeting_id}$"))
    await participant_id(host)


async def test_the_expiry_warns_in_the_last_hour_and_says_when_it_has_expired(new_context: NewContext) -> None:
    host = await (await new_context()).new_page()
    await host.clock.install(time=time.time())
    await login_host(host)
    await host.get_by_test_id("create-meeting").click()
    expiry = host.get_by_test_id("link-expiry")
    await expiry.wait_for(state="visible")
    assert await expiry.get_attribute("data-state") == "ok"

    await host.clock.fast_forward("07:30:00")
    await host.wait_for_function(
        "() => document.querySelector('[data-testid=\"link-expiry\"]').dataset.state === 'warning'"
    )
    text = await expiry.text_content() or ""
    assert re.search(r"expires soon: in (2\d|30) min", text), text
    assert "warning" in (await expiry.get_attribute("class") or "")

    await host.clock.fast_forward("00:31:00")
    await host.wait_for_function(
        "() => document.querySelector('[data-testid=\"link-expiry\"]').dataset.state === 'expired'"
    )
    assert "expired" in (await expiry.text_content() or "")


async def test_the_home_page_needs_the_host(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await page.goto("/")
    await page.wait_for_url(re.compile(r"/login$"))
    assert await page.get_by_test_id("login-submit").is_visible()
