"""Target `mediaserver`: the product itself, joined through the signalling gateway like the web client does."""

from __future__ import annotations

import structlog

from .bot import RECONNECT_KINDS, GatewayBot
from .config import RunConfig
from .endpoint import CONNECT_TIMEOUT_S, MediaEndpoint, Shared
from .probe import ControlStats, control_address, forwarding_totals, pid_owning_udp_port

log = structlog.get_logger(__name__)


class ProductTarget:
    name = "mediaserver"

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.bots: list[GatewayBot] = []
        self.meeting_id = ""
        self.server_pid: int | None = config.server_pid
        self.control: ControlStats | None = None
        self.notes: list[str] = []

    @property
    def endpoints(self) -> list[MediaEndpoint]:
        """Every bot's media, and the endpoints replaced after a media_reset (frozen: the totals stay whole)."""
        return [bot.media for bot in self.bots] + [old for bot in self.bots for old in bot.retired]

    def reconnects(self) -> dict[str, int]:
        """Comebacks by kind (resume, media_reset, rejoin) and bots that gave up, summed over bots."""
        return {kind: sum(bot.reconnects[kind] for bot in self.bots) for kind in RECONNECT_KINDS}

    async def join(self, shared: Shared) -> None:
        """Host login and meeting creation, then every bot joins and publishes, one after the other."""
        config = self.config
        host = GatewayBot(0, config.url, shared, config.loss_for(0), config.seed, self.notes)
        self.bots.append(host)
        await host.login_host(config.host_user, config.host_password)
        self.meeting_id = await host.create_meeting()
        for index in range(config.participants):
            bot = host if index == 0 else GatewayBot(index, config.url, shared, config.loss_for(index), config.seed,
                                                     self.notes)
            if index:
                self.bots.append(bot)
                await bot.join_guest(self.meeting_id)
            await bot.connect(self.meeting_id)
            if not await bot.wait_publishing(CONNECT_TIMEOUT_S):
                raise RuntimeError(f"bot {index}: publisher connection not up ({bot.media.publisher.describe()};"
                                   f" gateway errors {bot.shared.errors}; websocket {bot.closed_reason or 'open'})")
            if index == 0:
                await self._find_server(bot)

    async def _find_server(self, bot: GatewayBot) -> None:
        remote = bot.media.publisher.remote
        if self.server_pid is None and remote is not None:
            self.server_pid = pid_owning_udp_port(remote.port)
        if self.server_pid is None:
            self.notes.append("media server process not found: no CPU/RSS figures (pass --server-pid)")
            return
        address = None
        if self.config.media_control:
            host, _, port = self.config.media_control.rpartition(":")
            address = (host or "127.0.0.1", int(port))
        else:
            address = control_address(self.server_pid)
        if address is None:
            self.notes.append("media control port unknown: packets_forwarded counted at the bots")
            return
        control = ControlStats(*address)
        try:
            await control.start()
        except (OSError, TimeoutError) as exc:
            self.notes.append(f"media control port {address} unreachable ({exc}): forwarded counted at the bots")
            return
        self.control = control

    def server_pids(self) -> list[int]:
        return [] if self.server_pid is None else [self.server_pid]

    async def server_counters(self) -> dict[str, int] | None:
        """Forwarded packets, retransmissions and layer switches as the media server counts them: in this
        meeting, or in all of the server's when other rooms run beside it (its CPU is theirs too)."""
        if self.control is None:
            return None
        try:
            scope = None if self.config.barrier is not None else self.meeting_id
            return forwarding_totals(await self.control.stats(scope))
        except (OSError, TimeoutError, RuntimeError, ConnectionError) as exc:
            log.warning("control_stats_failed", error=str(exc))
            return None

    async def close(self) -> None:
        for bot in reversed(self.bots):
            await bot.close()
        if self.control is not None:
            await self.control.close()
