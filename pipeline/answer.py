"""Schemes -> answer bytes on the wire: orjson straight from plain dicts and numpy, no second validation pass.

Post-processing builds each scheme as the JSON the contract (`contract.scheme.Scheme`) describes, except that
`layout.heatmaps` is still a float array (4, rows, cols) in `LAYOUT_ELEMENTS` order; here it becomes either the
compact form (u8_base64, the default: ~1 KB a scheme) or the full grid form (rows of 0-1 numbers, three
decimals, as every answer carried before: ~5.5 KB a scheme). Tests validate these bytes against the contract.
"""

from __future__ import annotations

import base64

import numpy as np
import orjson

from contract.scheme import HEATMAP_LEVELS, HeatmapEncoding
from knowledge.taxonomy import LayoutElement

LAYOUT_ELEMENTS = [e.value for e in LayoutElement]
HEATMAP_ENCODINGS: tuple[HeatmapEncoding, ...] = ("u8_base64", "grid")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def encode_heatmaps(maps: np.ndarray, encoding: HeatmapEncoding) -> dict[str, object]:
    """(4, rows, cols) floats in 0-1 -> {element: encoded heatmap}."""
    if encoding == "grid":
        grids = np.round(maps.astype(np.float64), 3)
        return {e: grids[j].tolist() for j, e in enumerate(LAYOUT_ELEMENTS)}
    cells = np.rint(np.clip(maps, 0.0, 1.0) * HEATMAP_LEVELS).astype(np.uint8)
    return {e: base64.b64encode(cells[j].tobytes()).decode("ascii") for j, e in enumerate(LAYOUT_ELEMENTS)}


def wire_schemes(schemes: list[dict], encoding: HeatmapEncoding = "u8_base64") -> list[dict]:
    """Shallow copies of `schemes` whose layouts carry encoded heatmaps (the inputs are left as they are)."""
    out = []
    for scheme in schemes:
        layout = scheme["layout"]
        out.append({**scheme, "layout": {**layout, "heatmap_encoding": encoding,
                                         "heatmaps": encode_heatmaps(layout["heatmaps"], encoding)}})
    return out


def schemes_json(schemes: list[dict], encoding: HeatmapEncoding = "u8_base64") -> bytes:
    """One brief's schemes as a JSON array (bytes), ready to splice into an answer."""
    return orjson.dumps(wire_schemes(schemes, encoding), option=_NUMPY)


def answer_json(request_id: str, model_version: str, backend: str, timings_ms: dict[str, float],
                schemes: bytes) -> bytes:
    """The /v1/recommend answer (`contract.scheme.Recommendation`) around an already-serialised scheme array."""
    head = orjson.dumps({"request_id": request_id, "model_version": model_version, "backend": backend,
                         "timings_ms": timings_ms})
    return head[:-1] + b',"schemes":' + schemes + b"}"


def answer_batch(briefs: list, encoded, outputs: dict[str, np.ndarray], request_ids: list[str],
                 encodings: list[HeatmapEncoding], model_version: str, backend: str, stage_ms: dict[str, float],
                 started: list[float], now) -> tuple[list, list]:
    """A post-processed micro-batch -> each brief's answer bytes (or its BriefRejection), plus its schemes (None
    where rejected) for the answer log. Called alike by the Serve ingress and the plain baseline server.

    `stage_ms` holds the batch's encode/infer times; post-processing time is measured here, and each answer's
    total runs from its own `started` (time.perf_counter) to when its bytes were written, read from `now()`.
    """
    from pipeline.postprocess import schemes_batch  # answer.py itself only serialises; keep its imports light

    post_started = now()
    batch_schemes = schemes_batch(briefs, encoded, outputs)
    done = now()
    shared = {**{k: round(v, 2) for k, v in stage_ms.items()}, "post": round((done - post_started) * 1000, 2)}
    answers = []
    for i, schemes in enumerate(batch_schemes):
        if schemes is None:
            answers.append(encoded.rejected[i])
            continue
        timings = {**shared, "total": round((done - started[i]) * 1000, 2)}
        answers.append(answer_json(request_ids[i], model_version, backend, timings,
                                   schemes_json(schemes, encodings[i])))
    return answers, batch_schemes
