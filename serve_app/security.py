"""HTTP guards on the ingress app: optional API keys, JSON-only bodies, request-size limit, CORS allowlist.

Middleware is attached to the FastAPI app when the module is imported, but the settings arrive later, as
AppArgs in `Ingress.__init__`; so the middleware reads a per-process settings holder that the Ingress sets
(`configure`). Until then the defaults apply: open API, the default size limit, no CORS headers.

Nothing here logs a header value: API keys and Authorization headers never reach a log line.
"""

# No `from __future__ import annotations`: kept consistent with the FastAPI ingress modules.
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from contract.brief import MAX_IMAGE_B64_CHARS

# The largest valid brief is its base64 image plus well under 64 KiB of other fields.
DEFAULT_MAX_REQUEST_BYTES = MAX_IMAGE_B64_CHARS + 64 * 1024
# Paths served without an API key: liveness, the web page and its assets, the API description.
# An entry ending in "*" is a prefix; any other entry must match the path exactly.
DEFAULT_PUBLIC_PATHS = ("/", "/healthz", "/static/*", "/fonts/*", "/docs", "/docs/*", "/redoc", "/openapi.json")
# Under these prefixes, requests with a body must be JSON (415 otherwise).
JSON_PREFIXES = ("/v1/",)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def hash_api_key(key: str) -> str:
    """The hex SHA-256 that goes into `api_key_sha256` in serve_config.yaml."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class SecuritySettings:
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    api_key_sha256: tuple[str, ...] = ()  # empty: the API is open
    public_paths: tuple[str, ...] = DEFAULT_PUBLIC_PATHS
    cors_allow_origins: tuple[str, ...] = ()  # empty: no CORS headers at all
    _digests: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_digests", tuple(bytes.fromhex(h) for h in self.api_key_sha256))

    @classmethod
    def from_args(cls, args) -> "SecuritySettings":
        """From AppArgs (serve_app.config)."""
        return cls(max_request_bytes=args.max_request_bytes, api_key_sha256=tuple(args.api_key_sha256),
                   public_paths=tuple(args.public_paths), cors_allow_origins=tuple(args.cors_allow_origins))

    def is_public(self, path: str) -> bool:
        return any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in self.public_paths)

    def key_is_valid(self, presented: bytes) -> bool:
        digest = hashlib.sha256(presented).digest()
        valid = False
        for known in self._digests:  # every hash is compared: the time taken says nothing about which matched
            valid |= hmac.compare_digest(digest, known)
        return valid


_settings = SecuritySettings()


def configure(settings: SecuritySettings) -> None:
    """Set this process's settings (each Ingress replica is its own process)."""
    global _settings
    _settings = settings


def current() -> SecuritySettings:
    return _settings


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def presented_key(scope: Scope) -> bytes | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    auth = _header(scope, b"authorization")
    if auth:
        scheme, _, token = auth.strip().partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            return token.strip()
    key = _header(scope, b"x-api-key")
    return key.strip() if key and key.strip() else None


def is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


async def _send_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """401 without a valid key (when keys are configured), 415 for non-JSON bodies on the API, 413 for
    bodies over the limit: by Content-Length before reading anything, and by counting streamed bytes
    (chunked bodies have no Content-Length) through Starlette's RequestBodyLimitMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limited: RequestBodyLimitMiddleware | None = None

    def _with_limit(self, limit: int) -> ASGIApp:
        if self._limited is None or self._limited.max_body_size != limit:
            self._limited = RequestBodyLimitMiddleware(self.app, max_body_size=limit)
        return self._limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = _settings
        path = scope.get("path", "")
        if settings.api_key_sha256 and not settings.is_public(path):
            key = presented_key(scope)
            if key is None or not settings.key_is_valid(key):
                await _send_json(send, 401, "missing or invalid API key (Authorization: Bearer <key> or X-API-Key)",
                                 [(b"www-authenticate", b'Bearer realm="packdesign"')])
                return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                too_large = int(length) > settings.max_request_bytes
            except ValueError:
                await _send_json(send, 400, "invalid Content-Length")
                return
            if too_large:
                await _send_json(send, 413, f"request body over the {settings.max_request_bytes}-byte limit")
                return
        if scope.get("method") in _BODY_METHODS and path.startswith(JSON_PREFIXES):
            if not is_json(_header(scope, b"content-type")):
                await _send_json(send, 415, "request body must be JSON (Content-Type: application/json)")
                return
        await self._with_limit(settings.max_request_bytes)(scope, receive, send)


class AllowlistCORS:
    """Starlette's CORSMiddleware with the allowlist from the current settings; a pass-through while the
    allowlist is empty, so no CORS headers are sent unless origins are configured."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: CORSMiddleware | None = None
        self._origins: tuple[str, ...] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origins = _settings.cors_allow_origins
        if scope["type"] != "http" or not origins:
            await self.app(scope, receive, send)
            return
        if self._cors is None or self._origins != origins:
            self._cors = CORSMiddleware(
                self.app, allow_origins=list(origins), allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
                expose_headers=["Retry-After"], max_age=600,
            )
            self._origins = origins
        await self._cors(scope, receive, send)


def install(app) -> None:
    """Attach the guards; CORS sits outside the guard so preflights and 401/413/415 answers carry CORS
    headers and browsers can show them."""
    app.add_middleware(RequestGuard)
    app.add_middleware(AllowlistCORS)
