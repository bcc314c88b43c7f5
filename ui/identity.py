"""Who is asking, on an app others can reach without logins ("per-browser" mode).

Each browser gets an identity the server issues and can verify: a random id signed with the
server's secret (HMAC-SHA256), in an HttpOnly cookie set by `IdentityMiddleware` on the first
response. Every event's request carries it, hidden or not, so the server, not the client, says whose
work an event may read or change: a client cannot claim another's identity by sending another
token or session value (it would need the other browser's cookie). A client without a valid
cookie (a script that keeps no cookies) is known by its address. The identity is the owner of that
browser's runs, projects and downloads (cnn.owners: `users/<identity>/`).

Fairness is counted by person, and on such an app a person is a client address (`person_of`): one
script opening many sessions still holds one place. Behind a proxy, `--trust-proxy` takes the
address from the X-Forwarded-For entry the proxy appended."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

COOKIE = "cnn_id"
MAX_AGE_S = 365 * 24 * 3600


class Identity:
    """Issues and verifies browser identities with one secret (kept in `secret_file` so that an
    identity outlives a restart of the app; a new random one when None)."""

    def __init__(self, secret_file: Path | None = None, trust_proxy: bool = False):
        self.secret = _secret(secret_file)
        self.trust_proxy = trust_proxy

    def issue(self) -> str:
        """A new cookie value: 'b<random>.<signature>'."""
        ident = "b" + secrets.token_hex(12)
        return f"{ident}.{self._sign(ident)}"

    def verify(self, value: str | None) -> str | None:
        """The identity a cookie value proves, or None for a missing, malformed or forged one."""
        ident, _, sig = str(value or "").partition(".")
        if not re.fullmatch(r"b[0-9a-f]{24}", ident) or not hmac.compare_digest(sig, self._sign(ident)):
            return None
        return ident

    def owner_of(self, request) -> str:
        """Whose work this request may touch: its browser's verified identity, else its address."""
        cookies = getattr(request, "cookies", None) or {}
        return self.verify(cookies.get(COOKIE)) or "a" + _slug(self.person_of(request))

    def person_of(self, request) -> str:
        """Who holds a place in the queue: the client's address (the proxy's last entry with
        trust_proxy)."""
        if self.trust_proxy:
            forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
        client = getattr(request, "client", None)
        return str(getattr(client, "host", None) or "unknown")

    def _sign(self, ident: str) -> str:
        return hmac.new(self.secret, ident.encode(), hashlib.sha256).hexdigest()[:32]


class IdentityMiddleware:
    """ASGI middleware: a response to a request without a valid identity cookie sets a new one."""

    def __init__(self, app, identity: Identity):
        self.app, self.identity = app, identity

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self._valid(scope):
            return await self.app(scope, receive, send)
        value = self.identity.issue()
        cookie = f"{COOKIE}={value}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie.encode())])
            await send(message)

        return await self.app(scope, receive, send_with_cookie)

    def _valid(self, scope) -> bool:
        raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header: treat as none
            return False
        return COOKIE in jar and self.identity.verify(jar[COOKIE].value) is not None


def _secret(path: Path | None) -> bytes:
    """The signing secret: read from path, or made there (owner-only) the first time."""
    if path is None:
        return secrets.token_bytes(32)
    path = Path(path)
    if path.is_file() and path.stat().st_size >= 32:
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_bytes(secret)
    return secret


def _slug(address: str) -> str:
    """An address as a folder name (cnn.owners: letters, digits, '.', '_', '-')."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", address)[:60]
