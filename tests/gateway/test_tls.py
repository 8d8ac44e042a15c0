"""HTTPS from the gateway itself: TLS_CERT/TLS_KEY, `--self-signed` for a LAN try, Secure cookies, clear errors."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from signaling_gateway.config import ConfigError, Settings
from signaling_gateway.tls import self_signed, server_context

from .gateway_process import free_tcp_port


def _start(extra_env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_tcp_port()
    env = {**{k: v for k, v in os.environ.items() if k not in ("TLS_CERT", "TLS_KEY", "MEDIA_SERVER_URL")},
           "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port), "HOST_PASSWORD": "pw",
           "MEDIA_SERVER_URL": f"tcp://127.0.0.1:{free_tcp_port()}", **extra_env}  # no media needed here
    process = subprocess.Popen([sys.executable, "-m", "signaling_gateway", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, port


def _get(url: str, context: ssl.SSLContext, timeout: float = 20.0) -> tuple[int, dict[str, str], bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(15)


def test_tls_cert_and_key_serve_https_with_that_certificate_and_secure_cookies(tmp_path: Path) -> None:
    cert, key = self_signed(["127.0.0.1"], tmp_path)
    process, port = _start({"TLS_CERT": str(cert), "TLS_KEY": str(key)})
    try:
        trusted = ssl.create_default_context(cafile=str(cert))  # verifies the chain and 127.0.0.1
        status, _, body = _get(f"https://127.0.0.1:{port}/healthz", trusted)
        assert status == 200 and "status" in json.loads(body)  # "degraded": no media server in this test
        login = urllib.request.Request(f"https://127.0.0.1:{port}/login", data=b"username=host&password=pw",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=trusted), _NoRedirect())
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(login, timeout=5)
        assert redirect.value.code == 302
        cookie = redirect.value.headers.get("Set-Cookie", "")
        assert "host_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    finally:
        _stop(process)


def test_self_signed_makes_a_throwaway_certificate_for_the_host(tmp_path: Path) -> None:
    process, port = _start({}, "--self-signed")
    try:
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        status, _, _ = _get(f"https://127.0.0.1:{port}/healthz", insecure)
        assert status == 200
        with pytest.raises(OSError):  # not trusted by anyone: the browser warns, as the help text says
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        _stop(process)


def test_half_a_tls_configuration_or_a_missing_file_is_refused_at_start(tmp_path: Path) -> None:
    cert, key = self_signed(["127.0.0.1"], tmp_path)
    with pytest.raises(ConfigError, match="go together"):
        Settings.from_env({"TLS_CERT": str(cert)})
    with pytest.raises(ConfigError, match="no such file"):
        Settings.from_env({"TLS_CERT": str(cert), "TLS_KEY": str(tmp_path / "missing.pem")})
    settings = Settings.from_env({"TLS_CERT": str(cert), "TLS_KEY": str(key)})
    assert settings.secure_cookies and settings.scheme == "https"
    (tmp_path / "garbage.pem").write_text("not a key")
    with pytest.raises(ssl.SSLError):
        server_context(cert, tmp_path / "garbage.pem")
