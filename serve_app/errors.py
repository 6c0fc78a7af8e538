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
# Containers are echoed as far as these go, the rest as "…": a 422 stays small and cheap whatever the body holds (a
# 7 MB list echoed whole, once per error, took seconds of the event loop; nesting echoed deep ran out of stack).
MAX_ECHO_VALUES = 256  # values of containers echoed in one answer, all its errors together
MAX_ECHO_DEPTH = 8
MAX_ERRORS = 64  # errors listed in one answer; one more entry says how many were left out
CUT = "…"
# A validator's message and context are kept whole up to here: an enum's message names every allowed value (235
# characters for `tone`), but a message may quote the input too (a brand colour's repr), which must stay bounded.
MAX_MESSAGE_CHARS = 1000


def _encodable(text: str) -> str:
    """`text` with each lone surrogate as its escape text ('\\ud800'): no UTF-8 can carry the character itself."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def json_safe(value, budget: list[int] | None = None, depth: int = 0):
    """`value` as JSON can carry it: non-finite floats as their repr ('nan', 'inf', '-inf'), bytes (a body that
    is not JSON) decoded, long strings cut, lone surrogates as their escape text ('\\ud800'); containers only
    MAX_ECHO_DEPTH deep and, with `budget` ([values left], shared by one answer's errors), only that many values
    in all, the rest as "…"; other values as they are."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[: MAX_ECHO_CHARS * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        return _cut(value, MAX_ECHO_CHARS)
    if isinstance(value, (dict, list, tuple)):
        if budget is None:
            budget = [MAX_ECHO_VALUES]
        if depth >= MAX_ECHO_DEPTH:
            return CUT
        kept = []  # (key, echoed value); past the budget one ("…", "…") and no more
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            if budget[0] <= 0:
                kept.append((CUT, CUT))
                break
            budget[0] -= 1
            kept.append((key, json_safe(item, budget, depth + 1)))
        return {json_safe(k): v for k, v in kept} if isinstance(value, dict) else [v for _, v in kept]
    return value


def _cut(text: str, limit: int) -> str:
    """`text` cut at `limit` characters (marked with "…"), lone surrogates as their escape text."""
    return _encodable(text[:limit] + "…" if len(text) > limit else text)


def validation_error(errors: list[dict]) -> JSONResponse:
    """422 in FastAPI's own shape ({"detail": [{"loc", "msg", "type", ...}]}) so clients handle all alike."""
    detail = []
    budget = [MAX_ECHO_VALUES]  # shared by every error's echoed input
    for error in errors[:MAX_ERRORS]:
        item = {k: json_safe(v, budget if k == "input" else None) for k, v in error.items()
                if k in ("loc", "type", "input")}  # loc: a client's key
        if "msg" in error:
            item["msg"] = _cut(str(error["msg"]), MAX_MESSAGE_CHARS)
        if "ctx" in error:  # ctx may hold the exception object itself: keep only printable scalars
            # ("expected" lists every allowed value, longer than an echoed input may be)
            item["ctx"] = {k: v if isinstance(v, (int, bool)) else _cut(str(v), MAX_MESSAGE_CHARS)
                           for k, v in error["ctx"].items()}
        detail.append(item)
    if len(errors) > MAX_ERRORS:
        detail.append({"loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors not listed", "type": "too_many_errors"})
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
