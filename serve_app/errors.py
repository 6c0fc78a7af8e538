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
# A validator's message and context are kept whole up to here: an enum's message names every allowed value (235
# characters for `tone`), but a message may quote the input too (a brand colour's repr), which must stay bounded.
MAX_MESSAGE_CHARS = 1000


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
        return _cut(value, MAX_ECHO_CHARS)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _cut(text: str, limit: int) -> str:
    """`text` cut at `limit` characters (marked with "…"), lone surrogates as their escape text."""
    return _encodable(text[:limit] + "…" if len(text) > limit else text)


def validation_error(errors: list[dict]) -> JSONResponse:
    """422 in FastAPI's own shape ({"detail": [{"loc", "msg", "type", ...}]}) so clients handle all alike."""
    detail = []
    for error in errors:
        item = {k: json_safe(v) for k, v in error.items() if k in ("loc", "type", "input")}  # loc: a client's key
        if "msg" in error:
            item["msg"] = _cut(str(error["msg"]), MAX_MESSAGE_CHARS)
        if "ctx" in error:  # ctx may hold the exception object itself: keep only printable scalars
            # ("expected" lists every allowed value, longer than an echoed input may be)
            item["ctx"] = {k: v if isinstance(v, (int, bool)) else _cut(str(v), MAX_MESSAGE_CHARS)
                           for k, v in error["ctx"].items()}
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
