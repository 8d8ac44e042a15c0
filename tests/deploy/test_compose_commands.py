"""What the compose file's containers run, run here: the project installed (not editable) into a fresh venv,
started from an empty directory outside the checkout (the pages come from the installed package), with the
compose file's commands and environment on free loopback ports and a real redis-server; the media servers
register there, and the gateway places one meeting on each."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.gateway.gateway_process import free_tcp_port, free_udp_port
from tests.processes import rooms_on, stop_process
from tests.store.redis_server import RedisServer, redis_server_installed, start_redis_server

from .test_deploy_files import compose_project_services

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not redis_server_installed(), reason="needs redis-server (scripts/test)")]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "compose-password"


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # A copy of the sources: building in the checkout would leave build/ and *.egg-info behind.
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT, source, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".git", "test-artifacts", "*.egg-info", "build", "__pycache__"))
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                str(source)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = start_redis_server()
    yield server
    server.stop()


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not healthy in {timeout} s")


async def test_the_compose_services_run_from_the_installed_package(venv_python: Path, redis: RedisServer,
                                                                   tmp_path: Path) -> None:
    app = tmp_path / "app"  # outside the checkout, and empty: the pages come from the installed package
    app.mkdir()
    services = compose_project_services()
    media = {name: env for name, (module, env) in services.items() if module == "mediaserver"}
    (gateway_env,) = [env for module, env in services.values() if module == "signaling_gateway"]
    processes: list[subprocess.Popen[bytes]] = []
    control_ports = []
    try:
        for env in media.values():
            ports = {"MEDIA_UDP_PORT": str(free_udp_port()), "MEDIA_CONTROL_PORT": str(free_tcp_port()),
                     "MEDIA_METRICS_PORT": str(free_tcp_port())}
            process = start(venv_python, "mediaserver", app, {**env, **ports, "MEDIA_BIND": "127.0.0.1",
                                                             "MEDIA_PUBLIC_IP": "127.0.0.1", "REDIS_URL": redis.url})
            processes.append(process)
            wait_healthy(f"http://127.0.0.1:{ports['MEDIA_METRICS_PORT']}/healthz", process)
            control_ports.append(int(ports["MEDIA_CONTROL_PORT"]))
        http_port = free_tcp_port()
        # MEDIA_SERVER_URL as compose has it (redis): the gateway finds both media servers by their heartbeats.
        gateway = start(venv_python, "signaling_gateway", app, {
            **gateway_env, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(http_port), "REDIS_URL": redis.url,
            "HOST_PASSWORD": PASSWORD, "PUBLIC_URL": f"http://127.0.0.1:{http_port}"})
        processes.append(gateway)
        wait_healthy(f"http://127.0.0.1:{http_port}/healthz", gateway)

        base = f"http://127.0.0.1:{http_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # an IP host
            async with http.get(f"{base}/login") as page:
                assert page.status == 200 and "<form" in await page.text()  # web_client/ from the package data
            async with http.get(f"{base}/static/js/room.js") as script:
                assert script.status == 200 and "import" in await script.text()
            async with http.post(f"{base}/login", data={"username": "host", "password": PASSWORD},
                                 allow_redirects=False) as login:
                assert login.status == 302
            for _ in range(2):
                async with http.post(f"{base}/api/meetings") as created:
                    assert created.status == 201, await created.text()
        assert [len(await rooms_on(port)) for port in control_ports] == [1, 1]  # one meeting on each
        assert redis.client().keys("meeting:*"), "the meetings are in Redis"
    finally:
        for process in reversed(processes):
            stop_process(process)


def start(python: Path, module: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    base = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    return subprocess.Popen([str(python), "-m", module], cwd=cwd, env={**base, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
