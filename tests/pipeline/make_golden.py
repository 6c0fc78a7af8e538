"""Writes the golden answers the batch request path is tested against (tests/pipeline/test_golden.py).

Generated once from the per-brief code that served before the batch-first path (commit 5c54b47:
`pipeline.features.encode_brief` + `pipeline.postprocess.assemble_schemes`), then frozen. For each brief it keeps
the brief, what the encoder made of it, the model's raw outputs (so post-processing is compared on identical
inputs, whatever backend numerics do) and the schemes, in today's full JSON form.

    .venv/bin/python tests/pipeline/make_golden.py     # only to re-freeze on purpose
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_BRIEFS = 400


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
    from contract.brief import Brief
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline.features import encode_brief
    from benchmarks.frozen_postprocess import assemble_schemes  # the per-brief code, frozen
    from pipeline.reference_image import reference_colors
    from pipeline.tokenization import pad_batch

    backend = OnnxRuntimeBackend(precision="fp32")
    records, arrays = [], {}
    for i, raw in enumerate(golden_briefs()):
        brief = Brief.model_validate(raw)
        colors = reference_colors(brief.reference_image, 5 * 1024 * 1024) if brief.reference_image else []
        encoded = encode_brief(brief, colors)
        ids, mask = pad_batch([encoded.token_ids])
        outputs = {k: v[0] for k, v in backend.infer(ids, mask, encoded.features[None]).items()}
        schemes = assemble_schemes(brief, encoded, outputs)
        for name, value in outputs.items():
            arrays.setdefault(name, []).append(value)
        records.append({
            "brief": raw,
            "encoded": {"token_ids": encoded.token_ids, "text": encoded.text, "cues": encoded.cues,
                        "reference_colors": encoded.reference_colors,
                        "features": [float(x) for x in encoded.features]},
            "schemes": [s.model_dump(mode="json") for s in schemes],
        })
    np.savez_compressed(HERE / "golden_outputs.npz", **{k: np.stack(v) for k, v in arrays.items()})
    with gzip.open(HERE / "golden_answers.json.gz", "wt", encoding="utf-8") as f:
        json.dump(records, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{len(records)} briefs -> {HERE}")


if __name__ == "__main__":
    main()
