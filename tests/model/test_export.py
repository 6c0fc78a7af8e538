"""The assembled ONNX model: parity with PyTorch, dynamic shapes, metadata that ties it to the knowledge."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model.artifacts import check_model_metadata, label_tables, onnx_path, ModelMismatch
from model.export import parity
from model.net import INPUT_NAMES, OUTPUT_NAMES


@pytest.fixture(scope="module")
def proto():
    return onnx.load(str(onnx_path("fp32")))


def test_onnx_runtime_matches_pytorch_fp32():
    diffs = parity(batch=3, seq_len=21)
    assert max(v for k, v in diffs.items() if k not in ("palette_ids", "font_ids")) <= 1e-4, diffs


def test_named_io_dynamic_axes_and_opset(proto):
    assert [i.name for i in proto.graph.input] == INPUT_NAMES
    assert [o.name for o in proto.graph.output] == OUTPUT_NAMES
    ids = proto.graph.input[0].type.tensor_type.shape.dim
    assert ids[0].dim_param and ids[1].dim_param  # batch and seq_len are symbolic
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17


def test_metadata_carries_version_and_table_hashes(proto):
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["model_version"].startswith("packdesign-")
    check_model_metadata(meta, "recommender.onnx")
    with pytest.raises(ModelMismatch):
        check_model_metadata(meta | {"palette_table_sha": "0" * 16}, "recommender.onnx")
    assert set(label_tables()) <= set(meta)


@pytest.mark.parametrize(("batch", "seq"), [(1, 3), (5, 40), (33, 128)])
def test_runs_at_any_batch_and_sequence_length(batch, seq):
    session = ort.InferenceSession(str(onnx_path("fp32")), providers=["CPUExecutionProvider"])
    from pipeline.feature_layout import FEATURE_DIM

    ids = np.full((batch, seq), 2000, dtype=np.int64)
    outputs = dict(zip(OUTPUT_NAMES, session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                         "features": np.zeros((batch, FEATURE_DIM), np.float32)})))
    assert outputs["style_probs"].shape == (batch, 14)
    assert np.allclose(outputs["style_probs"].sum(1), 1, atol=1e-5)
    assert outputs["palette_ids"].dtype == np.int32 and outputs["layout"].shape == (batch, 4, 16, 12)
    assert (np.diff(outputs["palette_scores"], axis=1) <= 1e-6).all()  # top-k comes sorted


def test_sidecar_records_the_export():
    sidecar = json.loads(onnx_path("fp32").with_suffix(".json").read_text())
    assert sidecar["opset"] >= 17 and len(sidecar["onnx_sha256"]) == 64


def test_key_tables_were_baked_from_the_knowledge_as_it_is():
    """ensure_model (make model) re-exports when knowledge/data changed after the export: the font and palette key
    tables are baked into the graph, so pairs added to the library need their keys in it."""
    from model.design_tensors import knowledge_hash

    proto = onnx.load(str(onnx_path("fp32")), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["tables_knowledge_hash"] == knowledge_hash()
    assert meta["font_table_sha"] == label_tables()["font_table_sha"]
