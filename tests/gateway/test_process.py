"""`python -m signaling_gateway` as a process: generated password, health, and its own media server child."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

from .conftest import free_port
from .gateway_process import child_pids, pid_alive, start_gateway_process


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _login(base_url: str, username: str, password: str) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())
    data = urllib.parse.urlencode({"username": username, "password": password}).encode()
    try:
        with opener.open(base_url + "/login", data=data, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_generated_host_password_is_printed_once_and_works() -> None:
    gateway = start_gateway_process({"MEDIA_SERVER_URL": f"tcp://127.0.0.1:{free_port()}"}, wait_media=False)
    try:
        health = gateway.healthz()
        assert health is not None and health["media_connected"] is False
        lines = [line for line in gateway.stdout().splitlines() if line.startswith("host login:")]
        assert len(lines) == 1, gateway.stdout()
        match = re.fullmatch(r"host login: host / (\S+)", lines[0])
        assert match, lines[0]
        assert _login(gateway.base_url, "host", match.group(1)) == 302
        assert _login(gateway.base_url, "host", "wrong") == 401
        assert match.group(1) not in gateway.log()  # the password is not in the logs
    finally:
        assert gateway.stop() == 0


def test_a_configured_password_is_not_printed() -> None:
    env = {"MEDIA_SERVER_URL": f"tcp://127.0.0.1:{free_port()}", "HOST_PASSWORD": "given-pw"}
    gateway = start_gateway_process(env, wait_media=False)
    try:
        assert "host login" not in gateway.stdout()
        assert _login(gateway.base_url, "host", "given-pw") == 302
    finally:
        gateway.stop()


def test_spawns_supervises_and_stops_its_media_server() -> None:
    gateway = start_gateway_process({"HOST_PASSWORD": "pw"}, wait_media=True, timeout=30)
    try:
        children = child_pids(gateway.process.pid)
        assert len(children) == 1, children
        first_child = children[0]
        # A crashed media server is restarted and the control connection comes back.
        os.kill(first_child, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = [c for c in child_pids(gateway.process.pid) if c != first_child and pid_alive(c)]
            health = gateway.healthz()
            if new and health is not None and health["media_connected"]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"media server not restarted:\n{gateway.log()[-3000:]}")
        child = new[0]
    finally:
        code = gateway.stop()
    assert code == 0
    assert not pid_alive(child), "the media server child outlived the gateway"
