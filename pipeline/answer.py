"""Schemes -> answer bytes on the wire: orjson straight from plain dicts and numpy, no second validation pass.

Post-processing builds each scheme as the JSON the contract (`contract.scheme.Scheme`) describes, except that
`layout.heatmaps` is still a float array (4, rows, cols) in `LAYOUT_ELEMENTS` order; here it becomes either the
compact form (u8_base64, the default: ~1 KB of heatmaps a scheme, ~2.6 KB a whole scheme) or the full grid form (rows of 0-1 numbers, three
decimals, as every answer carried before: ~6.3 KB a whole scheme). Tests validate these bytes against the contract.
"""

from __future__ import annotations

import base64

import numpy as np
import orjson

from contract.scheme import HEATMAP_LEVELS, HeatmapEncoding
from knowledge.taxonomy import LayoutElement

LAYOUT_ELEMENTS = [e.value for e in LayoutElement]
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def encode_heatmaps(maps: np.ndarray, encoding: HeatmapEncoding) -> dict[str, object]:
    """(4, rows, cols) floats in 0-1 -> {element: encoded heatmap}."""
    if encoding == "grid":
        grids = np.round(maps.astype(np.float64), 3)
        return {e: grids[j].tolist() for j, e in enumerate(LAYOUT_ELEMENTS)}
    cells = np.rint(np.clip(maps, 0.0, 1.0) * HEATMAP_LEVELS).astype(np.uint8)
    return {e: base64.b64encode(cells[j].tobytes()).decode("ascii") for j, e in enumerate(LAYOUT_ELEMENTS)}


def _u8_base64_all(schemes: list[dict]) -> list[dict[str, str]] | None:
    """Every scheme's u8_base64 heatmaps in one pass (one quantisation, one base64 call), or None when a map's
    byte count is not a multiple of 3 (its base64 would then not split at map boundaries)."""
    maps = np.stack([s["layout"]["heatmaps"] for s in schemes])  # (n, 4, rows, cols)
    size = maps[0, 0].size
    if size % 3:
        return None
    cells = np.rint(np.clip(maps, 0.0, 1.0) * HEATMAP_LEVELS).astype(np.uint8)
    text = base64.b64encode(cells.tobytes()).decode("ascii")
    step = size // 3 * 4
    per_scheme = len(LAYOUT_ELEMENTS) * step
    return [{e: text[k * per_scheme + j * step:k * per_scheme + (j + 1) * step]
             for j, e in enumerate(LAYOUT_ELEMENTS)} for k in range(len(schemes))]


def wire_schemes(schemes: list[dict], encoding: HeatmapEncoding = "u8_base64") -> list[dict]:
    """Shallow copies of `schemes` whose layouts carry encoded heatmaps (the inputs are left as they are)."""
    encoded = _u8_base64_all(schemes) if encoding == "u8_base64" and schemes else None
    if encoded is None:
        encoded = [encode_heatmaps(s["layout"]["heatmaps"], encoding) for s in schemes]
    return [{**scheme, "layout": {**scheme["layout"], "heatmap_encoding": encoding, "heatmaps": maps}}
            for scheme, maps in zip(schemes, encoded)]


def schemes_json(schemes: list[dict], encoding: HeatmapEncoding = "u8_base64") -> bytes:
    """One brief's schemes as a JSON array (bytes), ready to splice into an answer."""
    return orjson.dumps(wire_schemes(schemes, encoding), option=_NUMPY)


def schemes_json_batch(batch: list[list[dict] | None], encodings: list[HeatmapEncoding]) -> list[bytes | None]:
    """`schemes_json` for each brief of a post-processed batch (None stays None), with every u8_base64 heatmap of
    the batch quantised and base64-encoded in one pass rather than brief by brief. Same bytes as `schemes_json`."""
    compact = [s for schemes, e in zip(batch, encodings) if schemes and e == "u8_base64" for s in schemes]
    shared = _u8_base64_all(compact) if compact else None
    maps = iter(shared or ())
    out: list[bytes | None] = []
    for schemes, encoding in zip(batch, encodings):
        if schemes is None:
            out.append(None)
        elif encoding == "u8_base64" and shared is not None and schemes:
            out.append(orjson.dumps([{**scheme, "layout": {**scheme["layout"], "heatmap_encoding": encoding,
                                                           "heatmaps": next(maps)}} for scheme in schemes],
                                    option=_NUMPY))
        else:
            out.append(schemes_json(schemes, encoding))
    return out


def answer_json(request_id: str, model_version: str, backend: str, timings_ms: dict[str, float],
                schemes: bytes, learner_version: str | None = None) -> bytes:
    """The /v1/recommend answer (`contract.scheme.Recommendation`) around an already-serialised scheme array.
    `learner_version` only where the tenant's learned taste re-ranked the answer (absent otherwise, so answers the
    learner did not touch keep their bytes)."""
    head = {"request_id": request_id, "model_version": model_version, "backend": backend, "timings_ms": timings_ms}
    if learner_version is not None:
        head["learner_version"] = learner_version
    head = orjson.dumps(head)
    return head[:-1] + b',"schemes":' + schemes + b"}"



def batch_answer_json(answers: list) -> bytes:
    """The /v1/recommend/batch answer (`contract.scheme.BatchRecommendation`): each brief's answer bytes as they
    are, or for a brief that could not be used (a `pipeline.features.BriefRejection`) its error, in order."""
    return b'{"answers":[' + b",".join(map(brief_answer_json, answers)) + b"]}"


def brief_answer_json(answer) -> bytes:
    """One brief's answer bytes as they are, or for a `pipeline.features.BriefRejection` its
    `contract.scheme.RejectedBrief`: why the brief was not answered."""
    if isinstance(answer, bytes):
        return answer
    return orjson.dumps({"error": {"field": answer.field, "message": answer.message}})
