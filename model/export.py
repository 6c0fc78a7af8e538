"""Assemble the runnable model and export it to ONNX (one graph: MiniLM + heads + top-k).

    python -m model.export      # -> artifacts/model/recommender.onnx (+ .json sidecar)

Inputs are the committed heads weights, MiniLM from its pip package and the knowledge base, so a fresh
machine rebuilds the same model offline in about a minute instead of shipping a ~90 MB ONNX file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from model.artifacts import ONNX_FILES, label_tables
from knowledge.design_tables import GRID
from model.design_tensors import knowledge_hash, load_design_tensors
from pipeline.feature_layout import FEATURE_DIM
from model.net import INPUT_NAMES, OUTPUT_NAMES, RecommenderModel
from model.text_encoder import MiniLMEncoder
from model.checkpoint import HEADS_PATH, MANIFEST_PATH, load_heads

ONNX_PATH = ONNX_FILES["fp32"]
OPSET = 18


def build_model(heads_path: Path = HEADS_PATH) -> RecommenderModel:
    tensors = load_design_tensors()
    return RecommenderModel(MiniLMEncoder.from_package(), load_heads(tensors, heads_path)).eval()


def example_inputs(batch: int = 2, seq_len: int = 12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 20000, (batch, seq_len), generator=generator)
    ids[:, 0] = 101
    mask = torch.ones(batch, seq_len, dtype=torch.int64)
    mask[1, seq_len // 2 :] = 0
    features = torch.zeros(batch, FEATURE_DIM)
    return ids, mask, features


def export(path: Path = ONNX_PATH, heads_path: Path = HEADS_PATH) -> dict:
    started = time.perf_counter()
    model = build_model(heads_path)
    manifest = json.loads(MANIFEST_PATH.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    batch, seq = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq_len", min=2, max=128)
    program = torch.onnx.export(
        model,
        example_inputs(),
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
        dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}, "features": {0: batch}},
    )
    metadata = {
        "model_version": manifest["model_version"],
        "heads_sha256": hashlib.sha256(heads_path.read_bytes()).hexdigest(),
        "knowledge_hash": manifest["knowledge_hash"],
        # The palette and font key tables are baked from the knowledge base as it is now (not as at training), so
        # a later change to knowledge/data (e.g. pairs added to the font library) calls for a re-export.
        "tables_knowledge_hash": knowledge_hash(),
        "feature_dim": str(FEATURE_DIM),
        "grid": json.dumps(list(GRID)),
        "top_palettes": str(model.top_palettes),
        "top_fonts": str(model.top_fonts),
        **label_tables(),
    }
    import onnx

    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    proto.producer_name = "packdesign-recommender"
    tmp = path.with_suffix(".tmp")
    onnx.save_model(proto, str(tmp))
    tmp.replace(path)
    sidecar = metadata | {
        "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "opset": OPSET,
        "inputs": INPUT_NAMES,
        "outputs": OUTPUT_NAMES,
        "export_seconds": round(time.perf_counter() - started, 1),
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def parity(path: Path = ONNX_PATH, batch: int = 4, seq_len: int = 17) -> dict[str, float]:
    """Max |ORT - torch| per output on random inputs (FP32); the contract is <= 1e-4."""
    import onnxruntime as ort

    model = build_model()
    ids, mask, features = example_inputs(batch, seq_len)
    features[:, :5] = 1.0
    with torch.no_grad():
        expected = [t.numpy() for t in model(ids, mask, features)]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(OUTPUT_NAMES, {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                     "features": features.numpy()})
    return {name: float(np.abs(e.astype(np.float64) - g.astype(np.float64)).max())
            for name, e, g in zip(OUTPUT_NAMES, expected, got)}


def ensure_model() -> Path:
    """Export if the ONNX file is missing or older than its inputs, heads or knowledge tables (the start-up path)."""
    if ONNX_PATH.exists():
        sidecar = json.loads(ONNX_PATH.with_suffix(".json").read_text()) if ONNX_PATH.with_suffix(".json").exists() else {}
        if (sidecar.get("heads_sha256") == hashlib.sha256(HEADS_PATH.read_bytes()).hexdigest()
                and sidecar.get("tables_knowledge_hash") == knowledge_hash()):
            return ONNX_PATH
    export()
    return ONNX_PATH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ONNX_PATH)
    parser.add_argument("--skip-parity", action="store_true")
    args = parser.parse_args()
    sidecar = export(args.output)
    print(json.dumps(sidecar, indent=2))
    if not args.skip_parity:
        print("parity (max abs diff, ORT vs torch FP32):", parity(args.output))


if __name__ == "__main__":
    main()
