"""Runs a media server as a child process beside the gateway (one per MEDIA_WORKERS) when no MEDIA_SERVER_URL
is given."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time

import structlog

from .config import Settings

log = structlog.get_logger(__name__)


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGINT (stop at once, no drain) when the gateway dies, even by SIGKILL (Linux), so no
    orphan holds the ports the next gateway's media servers need."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class MediaProcessError(RuntimeError):
    """The child media server did not come up."""


class MediaProcess:
    """Starts `python -m mediaserver`, waits for its control port, restarts it if it dies, stops it."""

    def __init__(self, settings: Settings, worker: int = 0, *, restart_delay_max: float = 10.0) -> None:
        self._settings = settings
        # Worker i of MEDIA_WORKERS: its ports are the configured ones plus i.
        self.worker = worker
        self.udp_port = settings.media_udp_port + worker
        self.control_port = settings.media_control_port + worker
        self.metrics_port = settings.media_metrics_port + worker if settings.media_metrics_port else 0
        self._restart_delay_max = restart_delay_max
        self._process: asyncio.subprocess.Process | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def argv(self) -> list[str]:
        s = self._settings
        return [
            sys.executable, "-m", "mediaserver",
            "--bind", s.media_bind,
            "--public-ip", s.media_public_ip,
            "--udp-port", str(self.udp_port),
            "--control-port", str(self.control_port),
            "--metrics-port", str(self.metrics_port),
        ]  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self, ready_timeout: float = 20.0) -> None:
        await self._spawn()
        await self.wait_ready(ready_timeout)
        self._watch_task = asyncio.create_task(self._watch(), name="media-process-watch")

    async def _spawn(self) -> None:
        s = self._settings
        env = dict(
            os.environ,
            MEDIA_UDP_PORT=str(self.udp_port),
            MEDIA_CONTROL_PORT=str(self.control_port),
            MEDIA_PUBLIC_IP=s.media_public_ip,
        )
        # Output is inherited on purpose: the media server's logs land where the gateway's do.
        self._process = await asyncio.create_subprocess_exec(*self.argv, env=env, preexec_fn=_die_with_parent)
        log.info("media_process_started", worker=self.worker, pid=self._process.pid, argv=" ".join(self.argv[1:]))

    async def wait_ready(self, timeout: float) -> None:
        """Poll until the control port accepts a connection: the media server's definition of ready."""
        endpoint = self._settings.media_endpoints[self.worker]
        deadline = time.monotonic() + timeout
        while True:
            process = self._process
            if process is not None and process.returncode is not None:
                raise MediaProcessError(f"media server exited with code {process.returncode} during startup")
            try:
                _, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise MediaProcessError(
                        f"media control port {endpoint.host}:{endpoint.port} not ready after {timeout} s"
                    ) from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def _watch(self) -> None:
        delay = 0.5
        while not self._stopping and self._process is not None:
            code = await self._process.wait()
            if self._stopping:
                return
            log.error("media_process_died", returncode=code, restart_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._restart_delay_max)
            try:
                await self._spawn()
                await self.wait_ready(20.0)
                delay = 0.5
            except (OSError, MediaProcessError) as exc:
                log.error("media_process_restart_failed", error=str(exc))

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGINT)  # the gateway is stopping: its workers stop now (SIGTERM would drain)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            log.warning("media_process_kill", pid=process.pid)
            process.kill()
            await process.wait()
        log.info("media_process_stopped", pid=process.pid, returncode=process.returncode)
