"""A JSON body held to its model's bounds before pydantic validates it.

pydantic reports every error, and a body of many unknown keys or a list far past its max_length makes one each:
200,000 unknown keys (2.3 MB) took 1.6 s to validate and 1.6 s more to list the 422's errors, all on the replica's
event loop (2026-12-07). A long body is parsed once with orjson (~1 ms a MB) and its keys and list lengths checked
against the model's own fields and max_length, down through nested models, so what pydantic then validates makes a
few errors at most; a body of more separators than any request holds is refused unparsed. `serve_app.api.parse_json_body` does it for the raw-body routes; `BoundedBodyRoute` for the
routes that take a body model through FastAPI.
"""

# No `from __future__ import annotations`: kept consistent with the FastAPI ingress modules.
import json
from itertools import islice
from typing import get_args

import orjson
from annotated_types import MaxLen
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from serve_app import errors as error_responses

# Bodies longer than this are checked (no brief without a reference image comes near it).
BOUNDS_CHECK_BYTES = 16 * 1024
MAX_EXTRA_REPORTED = 8  # unknown keys named in a 422 (the rest are not listed)
# Commas, "[" and "{" a body may hold, counted in its bytes before any parse: a 64-brief batch whose every keyword
# string were 1,000 commas has ~65,000; a preview request with grid heatmaps ~930. Past it a body is refused
# unparsed: parsing is what costs (orjson made 1.7 M one-element lists of a 6.8 MB body in ~1 s of the event loop,
# pydantic's own pass ~2 s).
MAX_JSON_SEPARATORS = 80_000


def body_errors(model: type[BaseModel], body: bytes) -> list[dict]:
    """What a body longer than BOUNDS_CHECK_BYTES breaks of `model`'s bounds ([] for a shorter body, or one
    inside them): more separators than MAX_JSON_SEPARATORS, unparsed; else `over_bounds` of its parsed value."""
    if len(body) <= BOUNDS_CHECK_BYTES:
        return []
    separators = body.count(b",") + body.count(b"[") + body.count(b"{")
    if separators > MAX_JSON_SEPARATORS:
        return [{"type": "too_long", "loc": (), "input": None,
                 "ctx": {"field_type": "JSON body (commas, arrays and objects)", "max_length": MAX_JSON_SEPARATORS,
                         "actual_length": separators}}]
    return over_bounds(model, loads(body))


def loads(body: bytes):
    """The body's JSON value (orjson; Python's json module for what orjson refuses, lone surrogates), or None
    where neither reads it (pydantic's own pass then says why)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _model_of(annotation) -> type[BaseModel] | None:
    """The pydantic model a field holds, directly or as its list's items (`Brief`, `list[Brief]`), else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def over_bounds(model: type[BaseModel], data, loc: tuple = ()) -> list[dict]:
    """Where `data` (a parsed JSON value) exceeds `model`'s bounds, the errors pydantic would report first, a few
    at most: unknown keys (where the model forbids them; the first MAX_EXTRA_REPORTED) and lists longer
    than their `max_length`, checked down through nested models. [] where it stays inside them: pydantic's own
    pass then reports what else is wrong, one error a field at most."""
    if not isinstance(data, dict):
        return []
    fields = model.model_fields
    errors: list[dict] = []
    if model.model_config.get("extra") == "forbid":
        extra = islice((k for k in data if k not in fields), MAX_EXTRA_REPORTED)
        errors += [{"type": "extra_forbidden", "loc": (*loc, k), "input": data[k]} for k in extra]
    for name, field in fields.items():
        value = data.get(name)
        limit = next((m.max_length for m in field.metadata if isinstance(m, MaxLen)), None)
        if isinstance(value, list) and limit is not None and len(value) > limit:
            errors.append({"type": "too_long", "loc": (*loc, name), "input": value,
                           "ctx": {"field_type": "List", "max_length": limit, "actual_length": len(value)}})
            continue
        inner = _model_of(field.annotation)
        if inner is not None:
            for i, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
                errors += over_bounds(inner, item, (*loc, name) if i is None else (*loc, name, i))
    return errors


class BoundedBodyRoute(APIRoute):
    """A FastAPI route whose body model (`event: Feedback`, `request: PreviewRequest`) is held to its bounds
    (`over_bounds`) before FastAPI validates the body: a 422 naming the first few offending keys, as FastAPI's own
    would name them (under "body")."""

    def get_route_handler(self):
        handler = super().get_route_handler()
        field = self.body_field
        model = _model_of(field.field_info.annotation) if field is not None else None
        if model is None:
            return handler

        async def bounded(request):
            # Starlette keeps the body: FastAPI's own parse reads the same bytes.
            found = body_errors(model, await request.body())
            if found:
                return error_responses.body_validation_error(ValidationError.from_exception_data(model.__name__, found))
            return await handler(request)

        return bounded
