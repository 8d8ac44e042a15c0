"""Debian's firefox-esr, headless, driven over Marionette (Mozilla's marionette_driver), with fake media."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.gateway.gateway_process import free_tcp_port

FIREFOX = "/usr/bin/firefox-esr"

# Fake camera and microphone without prompts; plain http on a test address counts as secure for media;
# real host candidates instead of mDNS names (the media server is ICE-lite: it never resolves .local).
PREFS = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.devices.insecure.enabled": True,
    "media.getusermedia.insecure.enabled": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.startup.homepage_override.mstone": "ignore",
}


def xvfb_installed() -> bool:
    return shutil.which("Xvfb") is not None


@contextlib.contextmanager
def xvfb(width: int = 1280, height: int = 720) -> Iterator[str]:
    """A virtual X screen for a headed Firefox (the screen getDisplayMedia captures); yields its DISPLAY."""
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def firefox_installed() -> bool:
    if shutil.which(FIREFOX) is None:
        return False
    try:
        import marionette_driver  # noqa: F401
    except ImportError:
        return False
    return True


def _pref(name: str, value: Any) -> str:
    text = "true" if value is True else "false" if value is False else str(value) if isinstance(value, int) \
        else f'"{value}"'
    return f'user_pref("{name}", {text});\n'


def _secure(host: str | None) -> dict[str, Any]:
    # A form on a page counted as secure, posting over http, would otherwise stop at a warning dialog.
    return {} if host is None else {"dom.securecontext.allowlist": host,
                                    "security.warn_submit_secure_to_insecure": False}


@contextlib.contextmanager
def firefox(display: str | None = None, secure_host: str | None = None) -> Iterator[Any]:
    """A Marionette session on a fresh profile; yields the marionette_driver client (synchronous).

    With `display` (an X server such as Xvfb's ":99") Firefox runs headed on it: headless Firefox has no
    screen to capture, so getDisplayMedia needs one. `secure_host` is treated as a secure origin over plain
    http (getDisplayMedia exists only in secure contexts; the insecure-media prefs cover getUserMedia only)."""
    from marionette_driver.marionette import Marionette

    profile = Path(tempfile.mkdtemp(prefix="firefox-profile-"))
    port = free_tcp_port()
    (profile / "user.js").write_text("".join(_pref(k, v) for k, v in {**PREFS, "marionette.port": port,
                                                                      **_secure(secure_host)}.items()))
    mode = ["--headless"] if display is None else []
    env = {**os.environ, "DISPLAY": display} if display is not None else None
    process = subprocess.Popen([FIREFOX, *mode, "--marionette", "--no-remote", "--profile", str(profile)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    client = Marionette(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.start_session()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.delete_session()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


class FirefoxPage:
    """The calls a test makes on a Marionette session, each blocking (run them in a thread from async tests)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def go(self, url: str) -> None:
        self.client.navigate(url)

    def js(self, script: str, *args: Any) -> Any:
        return self.client.execute_script(script, script_args=list(args), sandbox=None)

    def js_async(self, script: str, *args: Any) -> Any:
        """`script` ends by calling `resolve` (the last argument) with its result."""
        return self.client.execute_async_script(script, script_args=list(args), sandbox=None,
                                                script_timeout=20_000)

    def wait(self, script: str, timeout: float = 30.0, *args: Any) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"never true in Firefox: {script[:200]}")
            time.sleep(0.25)

    def click(self, testid: str) -> None:
        self.js(f"document.querySelector('[data-testid=\"{testid}\"]').click()")

    def press(self, testid: str) -> None:
        """A real click (Marionette's input events): what getDisplayMedia's user-gesture check needs."""
        from marionette_driver.by import By

        self.client.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]').click()

    def fill(self, testid: str, value: str) -> None:
        self.js(f"const e = document.querySelector('[data-testid=\"{testid}\"]'); e.value = arguments[0];"
                " e.dispatchEvent(new Event('input', {bubbles: true}));", value)
