"""Staff sessions of the /ui/ pages: a signed cookie, its CSRF token, and the login limit.

The session is a cookie of our own (``ratecalc_ui``, path ``/ui/``), signed with
RATECALC_UI_SECRET_KEY by itsdangerous (which Flask ships), rather than Flask's
app-wide ``session``: the JSON API and the Custom Store must never set or read a
cookie, and the UI's cookie flags must not depend on app-wide config.

The cookie holds no credential: a random session id, the CSRF token, when it was
issued, and an HMAC of the staff token used (keyed by the secret key), so removing
a token from RATECALC_UI_TOKENS ends the sessions opened with it. Logout deletes
the cookie and remembers the session id as ended until it would have expired
anyway: in this process, and with RATECALC_REDIS_URL in every process (``shared.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ratecalc.secrets import Secret

COOKIE = "ratecalc_ui"
COOKIE_PATH = "/ui/"
SESSION_SECONDS = 12 * 3600
LOGIN_ATTEMPTS_PER_MINUTE = 10
MAX_TRACKED = 10_000  # client addresses / ended sessions kept in memory, oldest dropped


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    issued: float
    staff: str | None  # HMAC of the staff token; None before login

    @property
    def logged_in(self) -> bool:
        return self.staff is not None

    def as_dict(self) -> dict:
        return {"sid": self.sid, "csrf": self.csrf, "iat": self.issued, "staff": self.staff}


class EndedSessions:
    """Logged-out session ids (in this process), each until it would have expired anyway."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._ended: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, sid: str, issued: float) -> None:
        now = self._clock()
        with self._lock:
            self._ended[sid] = issued + SESSION_SECONDS
            for known, until in list(self._ended.items()):
                if until < now or len(self._ended) > MAX_TRACKED:
                    del self._ended[known]

    def __contains__(self, sid: str) -> bool:
        with self._lock:
            return sid in self._ended


class Sessions:
    def __init__(self, secret_key: Secret, tokens: tuple[Secret, ...], clock=time.time,
                 ended: EndedSessions | None = None):
        self._serializer = URLSafeTimedSerializer(secret_key.reveal(), salt="ratecalc.ui")
        self._key = secret_key.reveal().encode()
        self._tokens = tokens
        self._clock = clock
        self._ended = ended if ended is not None else EndedSessions(clock)

    def fingerprint(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8", "surrogateescape"),
                        hashlib.sha256).hexdigest()[:32]

    def fresh(self, staff: str | None = None) -> Session:
        return Session(secrets.token_urlsafe(16), secrets.token_urlsafe(24), self._clock(), staff)

    def login(self, token: str | None) -> Session | None:
        """A new logged-in session (new id, new CSRF token) if ``token`` is a staff token."""
        if not token:
            return None
        found = False
        for known in self._tokens:  # every token compared: timing says nothing
            found = known.matches(token) | found
        return self.fresh(self.fingerprint(token)) if found else None

    def dump(self, session: Session) -> str:
        return self._serializer.dumps(session.as_dict())

    def load(self, cookie: str | None) -> Session | None:
        """The cookie's session, or None when absent, forged, expired, ended or revoked."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
            session = Session(str(data["sid"]), str(data["csrf"]), float(data["iat"]),
                              data["staff"] if isinstance(data["staff"], str) else None)
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if self._clock() - session.issued > SESSION_SECONDS:
            return None
        if session.sid in self._ended:
            return None
        if session.staff is not None and not self._staff_still_allowed(session.staff):
            return None
        return session

    def _staff_still_allowed(self, staff: str) -> bool:
        allowed = False
        for token in self._tokens:
            allowed = hmac.compare_digest(self.fingerprint(token.reveal()), staff) | allowed
        return allowed

    def end(self, session: Session) -> None:
        self._ended.add(session.sid, session.issued)


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode("utf-8", "replace"))


class LoginLimiter:
    """At most LOGIN_ATTEMPTS_PER_MINUTE login attempts per client address (in this process;
    ``shared.RedisLoginLimiter`` holds the same rule for every process)."""

    def __init__(self, per_minute: int = LOGIN_ATTEMPTS_PER_MINUTE, clock=time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._seen: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, address: str) -> float:
        """0 when this attempt may go ahead, else the seconds until one may."""
        now = self._clock()
        with self._lock:
            times = self._seen.pop(address, None) or deque()
            while times and times[0] <= now - 60:
                times.popleft()
            self._seen[address] = times
            while len(self._seen) > MAX_TRACKED:
                self._seen.popitem(last=False)
            if len(times) >= self.per_minute:
                return max(1.0, times[0] + 60 - now)
            times.append(now)
            return 0.0
