"""A JSON body held to its model's bounds before pydantic validates it.

pydantic reports every error, and a body of many unknown keys or a list far past its max_length makes one each:
200,000 unknown keys (2.3 MB) took 1.6 s to validate and 1.6 s more to list the 422's errors, all on the replica's
event loop (2026-12-07). A body over BOUNDS_CHECK_BYTES is first counted (its separators against what any valid body
of its model holds: past that, refused unparsed), then, where it holds more than a few, parsed once with orjson and
its keys, list lengths and enum-keyed dicts checked against the model's own fields, down through nested models, so
what pydantic then validates makes a few errors at most. `serve_app.api.parse_json_body` does it for the raw-body
routes, `BoundedBodyRoute` for the routes that take a body model through FastAPI.
"""

# No `from __future__ import annotations`: kept consistent with the FastAPI ingress modules.
import json
from enum import Enum
from functools import cache
from itertools import islice
from types import UnionType
from typing import Annotated, NamedTuple, Union, get_args, get_origin

import numpy as np
import orjson
from annotated_types import MaxLen
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from contract.brief import Brief, BriefBatch, Feedback
from contract.preview import PreviewRequest
from serve_app import errors as error_responses

# Bodies longer than this are checked (no brief without a reference image comes near it).
BOUNDS_CHECK_BYTES = 16 * 1024
MAX_EXTRA_REPORTED = 8  # unknown keys named in a 422 (the rest are not listed)
# Commas, "[" and "{" a body may hold, counted in its bytes before any parse; past it a body is refused unparsed
# (parsing is what costs: orjson made the 1.7 M one-element lists of a 6.8 MB body in ~1 s of the event loop,
# pydantic's own pass ~2 s). Per body model, with room over the largest valid body: a brief ~230 (keywords are at
# most 200 characters once normalised, commas included), a batch of 64 ~15,000, a preview request with grid heatmaps
# ~930; any other model MAX_JSON_SEPARATORS.
MAX_JSON_SEPARATORS = 16_384
# At most this many, pydantic's own pass makes at most this many errors (~15 us each, and as much again to list them
# in the 422): the body goes to it unchecked, so a brief with a 2 MB reference image (~20) is parsed once, not twice
# (orjson's extra parse of its string cost ~3.6 ms a 2 MB body).
FEW_SEPARATORS = 256
SEPARATORS_BY_MODEL = {Brief: 2_048, BriefBatch: 16_384, Feedback: 2_048, PreviewRequest: 8_192}


def separator_limit(model: type[BaseModel]) -> int:
    return SEPARATORS_BY_MODEL.get(model, MAX_JSON_SEPARATORS)


def _separators(body: bytes) -> int:
    """Commas, "[" and "{" in `body` (numpy's compares: 0.8 ms for 2 MB on a development core, where three
    bytes.count took 4.5)."""
    octets = np.frombuffer(body, np.uint8)
    return sum(int(np.count_nonzero(octets == code)) for code in b",[{")


def body_errors(model: type[BaseModel], body: bytes) -> list[dict]:
    """What a body longer than BOUNDS_CHECK_BYTES breaks of `model`'s bounds ([] for a shorter body, or one
    inside them): more separators than `separator_limit`, unparsed; else, past FEW_SEPARATORS, `over_bounds` of its
    parsed value."""
    if len(body) <= BOUNDS_CHECK_BYTES:
        return []
    separators = _separators(body)
    limit = separator_limit(model)
    if separators > limit:
        return [{"type": PydanticCustomError(
                     "body_too_complex", "the body holds {count} commas, arrays and objects; no valid request here "
                     "holds more than {limit}", {"count": separators, "limit": limit}),
                 "loc": (), "input": None}]
    if separators <= FEW_SEPARATORS:  # pydantic's own pass stays cheap; an image brief is not parsed twice
        return []
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


def _nested(annotation) -> tuple[str, type[BaseModel]] | None:
    """Where a field's type holds a pydantic model: ("self", M) for `M`, ("items", M) for `list[M]`, ("values", M)
    for `dict[K, M]`, looking through `X | None` and `Annotated`; else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "self", annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _nested(args[0])
    if origin in (Union, UnionType):
        return next((found for arg in args if arg is not type(None) and (found := _nested(arg))), None)
    if origin in (list, tuple, set, frozenset) and args and _nested(args[0]) == ("self", args[0]):
        return "items", args[0]
    if origin is dict and len(args) == 2 and _nested(args[1]) == ("self", args[1]):
        return "values", args[1]
    return None


def _enum_keys(annotation) -> int | None:
    """How many keys a `dict[SomeEnum, ...]` field can hold (its enum's members), looking through `X | None` and
    `Annotated`; None for any other type."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _enum_keys(args[0])
    if origin in (Union, UnionType):
        return next((found for arg in args if (found := _enum_keys(arg)) is not None), None)
    if origin is dict and args and isinstance(args[0], type) and issubclass(args[0], Enum):
        return len(args[0])
    return None


def _keys(name: str, field) -> set[str]:
    """The keys a body may use for a field: its name and its aliases."""
    keys = {name}
    for alias in (field.alias, field.validation_alias):
        if isinstance(alias, str):
            keys.add(alias)
    return keys


class _FieldBounds(NamedTuple):
    keys: frozenset[str]  # its name and aliases
    max_items: int | None  # a list's max_length
    enum_keys: int | None  # a dict keyed by an enum: its members
    nested: tuple[str, type[BaseModel]] | None  # `_nested`


@cache
def _model_bounds(model: type[BaseModel]) -> tuple[frozenset[str] | None, tuple[_FieldBounds, ...]]:
    """A model's bounds as `over_bounds` reads them, worked out once: the keys it knows (None where it allows
    others) and each field's."""
    fields = tuple(_FieldBounds(frozenset(_keys(name, field)),
                                next((m.max_length for m in field.metadata if isinstance(m, MaxLen)), None),
                                _enum_keys(field.annotation), _nested(field.annotation))
                   for name, field in model.model_fields.items())
    known = frozenset().union(*(f.keys for f in fields)) if model.model_config.get("extra") == "forbid" else None
    return known, fields


def over_bounds(model: type[BaseModel], data, loc: tuple = ()) -> list[dict]:
    """Where `data` (a parsed JSON value) exceeds `model`'s bounds, the errors pydantic would report first, a few
    at most: unknown keys (where the model forbids them; the first MAX_EXTRA_REPORTED), lists longer than their
    `max_length` and enum-keyed dicts with more keys than the enum has members, checked down through nested models
    (a field of a model, a list of them, a dict of them). [] where it stays inside them: pydantic's own pass then
    reports what else is wrong."""
    if not isinstance(data, dict):
        return []
    known, fields = _model_bounds(model)
    errors: list[dict] = []
    if known is not None:
        extra = islice((k for k in data if k not in known), MAX_EXTRA_REPORTED)
        errors += [{"type": "extra_forbidden", "loc": (*loc, k), "input": data[k]} for k in extra]
    for field in fields:
        key = next((k for k in field.keys if k in data), None)
        if key is None:
            continue
        value = data[key]
        if isinstance(value, list) and field.max_items is not None and len(value) > field.max_items:
            errors.append({"type": "too_long", "loc": (*loc, key), "input": value,
                           "ctx": {"field_type": "List", "max_length": field.max_items, "actual_length": len(value)}})
            continue
        if isinstance(value, dict) and field.enum_keys is not None and len(value) > field.enum_keys:
            errors.append({"type": "too_long", "loc": (*loc, key), "input": value,
                           "ctx": {"field_type": "Dictionary", "max_length": field.enum_keys,
                                   "actual_length": len(value)}})
            continue
        if field.nested is None:
            continue
        kind, inner = field.nested
        if kind == "self":
            errors += over_bounds(inner, value, (*loc, key))
        elif kind == "items" and isinstance(value, list):
            for i, item in enumerate(value):
                errors += over_bounds(inner, item, (*loc, key, i))
        elif kind == "values" and isinstance(value, dict):
            for k, item in value.items():
                errors += over_bounds(inner, item, (*loc, key, k))
    return errors


class BoundedBodyRoute(APIRoute):
    """A FastAPI route whose body model (`event: Feedback`, `request: PreviewRequest`) is held to its bounds
    (`over_bounds`) before FastAPI validates the body: a 422 naming the first few offending keys, as FastAPI's own
    would name them (under "body")."""

    def get_route_handler(self):
        handler = super().get_route_handler()
        field = self.body_field
        nested = _nested(field.field_info.annotation) if field is not None else None
        model = nested[1] if nested is not None and nested[0] == "self" else None
        if model is None:
            return handler

        async def bounded(request):
            # Starlette keeps the body: FastAPI's own parse reads the same bytes.
            found = body_errors(model, await request.body())
            if found:
                return error_responses.body_validation_error(ValidationError.from_exception_data(model.__name__, found))
            return await handler(request)

        return bounded
