"""A batch of mixed-length briefs run as length groups (`inference.base.infer_by_length`) on ONNX Runtime."""

import numpy as np
import pytest

from inference.base import length_groups
from inference.registry import create_backend
from pipeline.feature_layout import FEATURE_DIM
from pipeline.tokenization import encode_texts

TEXTS = ["tea", "refreshing summer limited can for teens, citrus and mint",
         "luxury tea gift box for mid-autumn", "kids snack",
         "premium whisky, gold, heritage, dark wood, embossed label, numbered bottles for collectors abroad",
         "清爽 夏季限定"]


def mixed_batch():
    ids, mask = encode_texts(TEXTS)
    features = np.random.default_rng(0).random((len(TEXTS), FEATURE_DIM), dtype=np.float32)
    return ids, mask, features


def test_groups_cover_every_row_once_at_its_own_longest_length():
    _, mask, _ = mixed_batch()
    lengths = mask.sum(axis=1)
    assert len(set((-(-lengths // 4)).tolist())) >= 3  # the texts span several groups
    groups = length_groups(mask, 4)
    rows = np.concatenate([r for r, _ in groups])
    assert sorted(rows.tolist()) == list(range(len(TEXTS)))
    for r, tokens in groups:
        assert tokens == lengths[r].max()  # not the batch's longest, nor rounded up
        assert len(set((-(-lengths[r] // 4)).tolist())) == 1
    (alone, tokens), = length_groups(mask[:1], 4)
    assert alone.tolist() == [0] and tokens == lengths[0]


@pytest.mark.parametrize("multiple", [1, 4, 8])
def test_grouped_outputs_match_one_padded_call_row_for_row(multiple):
    ids, mask, features = mixed_batch()
    one_call = create_backend("onnxruntime", length_group=0)
    grouped = create_backend("onnxruntime", length_group=multiple)
    # One call, padded past the longest brief as a coalesced batch is: the grouped run must not depend on it.
    pad = np.zeros((len(TEXTS), 8), np.int64)
    a = one_call.infer(np.hstack([ids, pad]), np.hstack([mask, pad]), features)
    b = grouped.infer(np.hstack([ids, pad]), np.hstack([mask, pad]), features)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].shape == b[name].shape and a[name].dtype == b[name].dtype, name
    for name in ("style_probs", "palette_scores", "font_scores", "layout"):  # float32 rounding apart (scores ~3e3)
        assert np.allclose(a[name], b[name], rtol=1e-5, atol=1e-4), name
    assert (a["palette_ids"][:, :5] == b["palette_ids"][:, :5]).all()
    # Row order kept: each row's answer is its own, not its group neighbour's.
    alone = [grouped.infer(ids[i:i + 1], mask[i:i + 1], features[i:i + 1]) for i in range(len(TEXTS))]
    assert np.abs(np.concatenate([x["style_probs"] for x in alone]) - b["style_probs"]).max() < 1e-4


def test_served_configuration_groups_by_length():
    from serve_app.config import AppArgs

    options = AppArgs().backend_options()["onnxruntime"]
    assert options["length_group"] > 0
    assert create_backend("onnxruntime", **options).info.detail["length_group"] == options["length_group"]
