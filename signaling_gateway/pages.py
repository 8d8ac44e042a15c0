"""HTML pages: host login and home, the guest join form, and the call page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from .auth import Authenticator, HostCredentials
from .host_controls import HostControls
from .host_sessions import HostSessions
from .http_limits import JoinLimiter, client_address, retry_after_header
from .login_throttle import LoginThrottle
from .meetings import Meetings, is_locked
from .names import MAX_NAME_CHARS, InvalidName, clean_guest_name
from .templates import Templates

log = structlog.get_logger(__name__)

# A meeting id, as meetings.py checks them: three groups of four.
_CODE = re.compile(r"(?<![a-z0-9-])[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}(?![a-z0-9-])")
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz23456789")

# The form fields are short; anything bigger is not a login or a name.
MAX_FORM_FIELD = 4096


class Pages:
    def __init__(
        self,
        *,
        templates: Templates,
        auth: Authenticator,
        credentials: HostCredentials,
        meetings: Meetings,
        controls: HostControls,
        throttle: LoginThrottle,
        joins: JoinLimiter,
        sessions: HostSessions,
        trust_forwarded_for: bool = False,
    ) -> None:
        self._throttle = throttle
        self._joins = joins
        self._sessions = sessions
        self._trust_forwarded_for = trust_forwarded_for
        self._templates = templates
        self._auth = auth
        self._credentials = credentials
        self._meetings = meetings
        self._controls = controls

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/login", self.login_form),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
            web.get("/", self.home),
            web.get("/room/{meeting_id}", self.room),
            web.get("/join", self.join_code),
            web.get("/join/{meeting_id}", self.join_form),
            web.post("/join/{meeting_id}", self.join),
        ]

    def _message(self, request: web.Request, status: int, key: str, **options: str) -> web.Response:
        """A dead end's page with its next step, picked by who is asking (the host, or a guest)."""
        return self._templates.message(request, status, key, host=self._auth.host(request) is not None, **options)

    async def _meeting_missing(self, request: web.Request, meeting_id: str) -> web.Response:
        """Why there is no meeting behind this link: the host ended it, or it never existed (or expired)."""
        if await self._meetings.has_ended(meeting_id):
            # Only the host ends a meeting: the host reads that they did it, a guest that the host did.
            text_key = "page.meeting_ended.text_host" if self._auth.host(request) else "page.meeting_ended.text"
            return self._message(request, 410, "page.meeting_ended", text_key=text_key, testid="meeting-ended")
        return self._message(request, 404, "page.meeting_not_found", testid="meeting-not-found")

    def _removed(self, request: web.Request) -> web.Response:
        return self._message(request, 403, "page.removed", testid="kicked")

    async def _guest_removed(self, request: web.Request, meeting_id: str) -> bool:
        """This browser's guest token for the meeting is one the host removed (a new name does not help)."""
        guest = self._auth.guest(request, meeting_id)
        return guest is not None and await self._controls.removed(guest, meeting_id)

    def _meeting_locked(self, request: web.Request) -> web.Response:
        return self._message(request, 403, "page.meeting_locked", testid="meeting-locked")

    def not_found(self, request: web.Request) -> web.Response:
        """Any address nobody serves: the styled page, in the person's language, with their next step."""
        return self._message(request, 404, "page.not_found", testid="not-found")

    async def join_code(self, request: web.Request) -> web.StreamResponse:
        """The meeting-code box's target: a code or a whole link pasted in, on to that meeting's join page."""
        typed = request.query.get("code", "")[:MAX_FORM_FIELD]
        meeting_id = meeting_code(typed)
        if meeting_id is None:
            return self._message(request, 400, "page.code_invalid", testid="code-invalid", code=typed.strip())
        raise web.HTTPSeeOther(f"/join/{meeting_id}")

    def _page(self, request: web.Request, page: str, *, status: int = 200, **values: str) -> web.Response:
        return self._templates.response(page, language=self._templates.catalogs.choose(request), status=status,
                                        **values)

    def _text(self, request: web.Request, key: str, **fields: object) -> str:
        catalogs = self._templates.catalogs
        return catalogs.text(catalogs.choose(request), key, **fields)

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        if self._auth.host(request) is not None:
            raise web.HTTPFound("/")
        return self._page(request, "login.html", error="", username="")

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        username, password = _field(form, "username"), _field(form, "password")
        keys = self._throttle.keys(client_address(request, self._trust_forwarded_for), username)
        wait = self._throttle.retry_after(keys)
        if wait > 0:
            log.warning("host_login_throttled", remote=request.remote, retry_after=round(wait, 1))
            response = self._page(
                request, "login.html", status=429, username=username,
                error=self._text(request, "login.error.throttled", seconds=max(1, round(wait))))
            response.headers.update(retry_after_header(wait))
            return response
        self._throttle.attempt(keys)
        if await self._throttle.verify(lambda: self._credentials.check(username, password)):
            self._throttle.succeeded(keys)
            log.info("host_login")
            response = web.HTTPFound("/")
            self._auth.start_host_session(response)
            raise response
        log.warning("host_login_failed", remote=request.remote)
        return self._page(
            request, "login.html", status=401, error=self._text(request, "login.error.wrong"), username=username
        )

    async def logout(self, request: web.Request) -> web.StreamResponse:
        await self._sessions.revoke(request)
        response = web.HTTPFound("/login")
        self._auth.end_host_session(response)
        raise response

    async def home(self, request: web.Request) -> web.StreamResponse:
        host = self._auth.host(request)
        if host is None:
            raise web.HTTPFound("/login")
        return self._page(request, "home.html", username=host.name)

    async def room(self, request: web.Request) -> web.StreamResponse:
        meeting_id = request.match_info["meeting_id"]
        if await self._meetings.get(meeting_id) is None:
            return await self._meeting_missing(request, meeting_id)
        identity = self._auth.for_meeting(request, meeting_id)
        if identity is None:
            raise web.HTTPFound(f"/join/{meeting_id}")
        if await self._controls.removed(identity, meeting_id):
            return self._removed(request)
        return self._page(request, "room.html", meeting_id=meeting_id)

    async def join_form(self, request: web.Request) -> web.StreamResponse:
        meeting_id = request.match_info["meeting_id"]
        meeting = await self._meetings.get(meeting_id)
        if meeting is None:
            return await self._meeting_missing(request, meeting_id)
        if self._auth.host(request) is not None:
            raise web.HTTPFound(f"/room/{meeting_id}")
        if await self._guest_removed(request, meeting_id):
            return self._removed(request)
        if is_locked(meeting):
            return self._meeting_locked(request)
        return self._join_page(request, meeting_id)

    def _join_page(
        self, request: web.Request, meeting_id: str, *, status: int = 200, error: str = "", name: str = ""
    ) -> web.Response:
        return self._page(
            request,
            "join.html",
            status=status,
            meeting_id=meeting_id,
            error=error,
            name=name,
            max_name=str(MAX_NAME_CHARS),
        )

    async def join(self, request: web.Request) -> web.StreamResponse:
        meeting_id = request.match_info["meeting_id"]
        meeting = await self._meetings.get(meeting_id)
        if meeting is None:
            return await self._meeting_missing(request, meeting_id)
        if await self._guest_removed(request, meeting_id):
            return self._removed(request)
        if is_locked(meeting):
            return self._meeting_locked(request)
        wait = self._joins.retry_after(request)
        if wait > 0:
            response = self._join_page(request, meeting_id, status=429, error=self._text(request, "join.error.busy"))
            response.headers.update(retry_after_header(wait))
            return response
        raw = _field(await request.post(), "name")
        try:
            name = clean_guest_name(raw)
        except InvalidName as exc:
            return self._join_page(request, meeting_id, status=400, error=self._text(request, exc.key, **exc.fields),
                                   name=raw[:MAX_NAME_CHARS])
        response = web.HTTPFound(f"/room/{meeting_id}")
        self._auth.admit_guest(response, meeting_id, name)
        log.info("guest_admitted", meeting_id=meeting_id)
        raise response


def meeting_code(typed: str) -> str | None:
    """The meeting id in what someone pasted: the code itself (any case, with or without dashes) or a link."""
    text = typed.strip().lower()
    parsed = urlsplit(text if "//" in text else "")
    # A link: only its path names the meeting (a host name could look like a code).
    found = _CODE.search(parsed.path if parsed.netloc else text)
    if found:
        return found.group(0)
    compact = re.sub(r"[\s-]", "", text)
    if len(compact) == 12 and all(c in _CODE_CHARS for c in compact):
        return f"{compact[:4]}-{compact[4:8]}-{compact[8:]}"
    return None


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value[:MAX_FORM_FIELD]
