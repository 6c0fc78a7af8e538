"""Writes the golden answers the batch request path is tested against (tests/pipeline/test_golden.py).

History: first frozen from the per-brief code (commit 5c54b47: `encode_brief` + `assemble_schemes`, now
`benchmarks/frozen_postprocess.py`) with the model's raw outputs from ONNX Runtime FP32; the batch-first rewrite
matched it exactly. Re-frozen on purpose when post-processing began choosing to the brief's named tones and colour
cues (issue 15): the briefs and the stored model outputs (golden_outputs.npz) are kept, so post-processing is still
compared on identical inputs whatever the weights or backend numerics do; only the encodings and the schemes are
written again, by today's `encode_batch` and `schemes_batch`, in batches of 64 as the test runs them. Re-frozen
again when answers began naming light colours by their hue and stopped showing crude survey names (2026-12-07:
1,299 of 8,748 colour names and two rationales, nothing else), for "brand colours" (225 rationales), and for a
copy-edit of the rationales (1,127 rationales, 24 names, then 47 for a keyword quoted after its translation, then
262 for a harmony the colours no longer have), and for survey names shown capitalised and spelt right (3,937 names),
and for "Not met" saying what misses each attribute, colours or type (2026-12-07, 282 rationales; written over the
earlier file scheme by scheme, so that the 5 schemes this machine answers differently by float ties kept their
frozen answers).

    .venv/bin/python tests/pipeline/make_golden.py            # re-answer the stored briefs and outputs (on purpose)
    .venv/bin/python tests/pipeline/make_golden.py --outputs  # also recompute the model outputs (new weights)
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
N_BRIEFS = 400
BATCH = 64


def golden_briefs() -> list[dict]:
    from benchmarks.workload import brief_mix

    briefs = brief_mix(N_BRIEFS, seed=11, image_share=0.05)
    rng = random.Random(5)
    for brief in briefs:  # every scheme count and locale, and briefs with 0-3 brand colours
        brief["num_schemes"] = rng.choice([1, 2, 3, 3, 4, 5, 6, 8])
        if rng.random() < 0.3:
            brief["brand_colors"] = [f"#{rng.randrange(1 << 24):06x}" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            brief["locale"] = "zh"
    return briefs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", action="store_true", help="recompute the model outputs with ONNX Runtime FP32")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # this worktree's packages, not an installed copy
    import orjson

    from contract.brief import MAX_IMAGE_BYTES, Brief
    from pipeline.answer import schemes_json
    from pipeline.features import encode_batch
    from pipeline.postprocess import schemes_batch

    raw_briefs = golden_briefs()
    briefs = [Brief.model_validate(raw) for raw in raw_briefs]
    if args.outputs:
        from inference.onnxruntime_backend import OnnxRuntimeBackend

        backend = OnnxRuntimeBackend(precision="fp32")
        arrays: dict[str, list] = {}
        for start in range(0, len(briefs), BATCH):
            encoded = encode_batch(briefs[start:start + BATCH], max_image_bytes=MAX_IMAGE_BYTES)
            for name, value in backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features).items():
                arrays.setdefault(name, []).append(value)
        np.savez_compressed(HERE / "golden_outputs.npz", **{k: np.concatenate(v) for k, v in arrays.items()})
    with np.load(HERE / "golden_outputs.npz") as npz:
        outputs = {k: npz[k] for k in npz.files}

    records = []
    for start in range(0, len(briefs), BATCH):
        rows = slice(start, start + BATCH)
        encoded = encode_batch(briefs[rows], max_image_bytes=MAX_IMAGE_BYTES)
        answers = schemes_batch(briefs[rows], encoded, {k: v[rows] for k, v in outputs.items()})
        for offset, schemes in enumerate(answers):
            row = encoded.row(offset)
            answered = orjson.loads(schemes_json(schemes, "grid"))
            for scheme in answered:  # the test checks the encoding apart
                scheme["layout"].pop("heatmap_encoding")
            records.append({
                "brief": raw_briefs[start + offset],
                "encoded": {"token_ids": row.token_ids, "text": row.text, "cues": row.cues,
                            "reference_colors": row.reference_colors, "cue_ids": row.cue_ids,
                            "cue_terms": row.cue_terms, "features": [float(x) for x in row.features]},
                "schemes": answered,
            })
    with gzip.open(HERE / "golden_answers.json.gz", "wt", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(records)} briefs -> {HERE}")


if __name__ == "__main__":
    main()
