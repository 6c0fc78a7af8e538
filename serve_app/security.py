"""HTTP guards on the ingress app: optional API keys, JSON-only bodies, request-size limit, CORS allowlist.

Each app gets its own settings (`install(app, settings)`, from AppArgs when the Ingress replica builds its app),
so two apps in one process never share them. A valid key's id (the start of its SHA-256) is put in the
request's state as the tenant its answers and feedback belong to.

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
TENANT_ID_CHARS = 16


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
        return self.tenant_of(presented) is not None

    def tenant_of(self, presented: bytes) -> str | None:
        """The id of the configured key that `presented` is (its SHA-256's first 16 hex digits), or None."""
        digest = hashlib.sha256(presented).digest()
        tenant = None
        for known in self._digests:  # every hash is compared: the time taken says nothing about which matched
            if hmac.compare_digest(digest, known):
                tenant = known.hex()[:TENANT_ID_CHARS]
        return tenant


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

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        self.settings = settings
        self._limited = RequestBodyLimitMiddleware(app, max_body_size=settings.max_request_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        path = scope.get("path", "")
        if settings.api_key_sha256 and not settings.is_public(path):
            key = presented_key(scope)
            tenant = settings.tenant_of(key) if key is not None else None
            if tenant is None:
                await _send_json(send, 401, "missing or invalid API key (Authorization: Bearer <key> or X-API-Key)",
                                 [(b"www-authenticate", b'Bearer realm="packdesign"')])
                return
            scope.setdefault("state", {})["tenant"] = tenant
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
        await self._limited(scope, receive, send)


class AllowlistCORS:
    """Starlette's CORSMiddleware with the allowlist from the current settings; a pass-through while the
    allowlist is empty, so no CORS headers are sent unless origins are configured."""

    def __init__(self, app: ASGIApp, settings: SecuritySettings) -> None:
        self.app = app
        origins = settings.cors_allow_origins
        self._cors = CORSMiddleware(
            app, allow_origins=list(origins), allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After"], max_age=600,
        ) if origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._cors is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._cors(scope, receive, send)


def install(app, settings: SecuritySettings) -> None:
    """Attach the guards; CORS sits outside the guard so preflights and 401/413/415 answers carry CORS
    headers and browsers can show them."""
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(AllowlistCORS, settings=settings)
