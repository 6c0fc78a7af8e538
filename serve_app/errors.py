"""One shape for every 4xx that names a field, and validation errors that always render.

FastAPI's default 422 handler echoes each rejected `input` back through `json.dumps(allow_nan=False)`, so a
body holding NaN, Infinity or 1e999 (which Python's json module parses to inf) made the error answer itself
fail with HTTP 500. Here non-finite inputs are echoed as strings, whatever parser produced them, and so are
strings holding a lone surrogate (the JSON escape "\\ud800" is valid JSON but no UTF-8 can carry it back).
"""

# No `from __future__ import annotations`: kept consistent with the FastAPI ingress modules.
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


MAX_ECHO_CHARS = 200  # an invalid input is echoed back only this far (bodies can hold a 5 MB image)


def _encodable(text: str) -> str:
    """`text` with each lone surrogate as its escape text ('\\ud800'): no UTF-8 can carry the character itself."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_safe(value):
    """`value` as JSON can carry it: non-finite floats as their repr ('nan', 'inf', '-inf'), bytes (a body that
    is not JSON) decoded, long strings cut, lone surrogates as their escape text ('\\ud800'); other values as
    they are."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: MAX_ECHO_CHARS * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        return _encodable(value[:MAX_ECHO_CHARS] + "…" if len(value) > MAX_ECHO_CHARS else value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _whole(value):
    """`value` as JSON can carry it, uncut: lone surrogates (a field name in `loc` may hold one) as escape text."""
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, (list, tuple)):
        return [_whole(v) for v in value]
    return value


def validation_error(errors: list[dict]) -> JSONResponse:
    """422 in FastAPI's own shape ({"detail": [{"loc", "msg", "type", ...}]}) so clients handle all alike."""
    detail = []
    for error in errors:
        # Only the client's `input` is cut; the message is the validator's own and whole (an enum's names every
        # allowed value: 235 characters for `tone`).
        item = {k: json_safe(v) if k == "input" else _whole(v) for k, v in error.items()
                if k in ("loc", "msg", "type", "input")}
        if "ctx" in error:  # ctx may hold the exception object itself: keep only printable scalars
            # (whole: "expected" lists every allowed value, longer than an echoed input may be)
            item["ctx"] = {k: v if isinstance(v, (int, bool)) else _encodable(str(v)) for k, v in error["ctx"].items()}
        detail.append(item)
    return JSONResponse(status_code=422, content={"detail": detail})


def body_validation_error(exc) -> JSONResponse:
    """422 for a raw body pydantic refused (a `ValidationError`), its locations under "body" as FastAPI puts them."""
    return validation_error([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)])


def field_error(field: str, message: str) -> JSONResponse:
    return validation_error([{"loc": ["body", field], "msg": message, "type": "value_error"}])


async def _on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_error(list(exc.errors()))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
