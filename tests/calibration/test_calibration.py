"""The versioned calibration set and the quantisation helpers."""

import onnx
import pytest

from calibration.calibration_set import CALIBRATION_FILE, build, load
from calibration.quantize import calibration_batches, int8_nodes, keep_fp32_nodes
from knowledge.taxonomy import Audience, PackageFormat, ProductCategory, Tone
from model.artifacts import onnx_path
from model.briefs import HELDOUT_SIZE, generate_briefs


def test_calibration_set_is_versioned_and_representative():
    samples = load()
    assert len(samples) >= 512
    briefs = [s.brief for s in samples]
    assert {b.product_category for b in briefs} == set(ProductCategory)
    assert {a for b in briefs for a in b.audience} == set(Audience)
    assert {t for b in briefs for t in b.tone} == set(Tone)
    assert {b.package_format for b in briefs} == set(PackageFormat)
    assert {s.language for s in samples} == {"en", "zh", "mixed"}
    lengths = [len(b.keywords) for b in briefs]
    assert min(lengths) == 0 and max(lengths) > 60  # short and long
    assert any(b.brand_colors for b in briefs) and any(s.reference_colors for s in samples)
    assert any(not b.brand_colors for b in briefs)


@pytest.mark.slow
def test_calibration_set_is_disjoint_and_reproducible():
    samples = load()
    assert [s.key() for s in build()] == [s.key() for s in samples], f"{CALIBRATION_FILE} is stale"
    train = {s.key() for s in generate_briefs(20_000, "train")}
    heldout = {s.key() for s in generate_briefs(HELDOUT_SIZE, "heldout")}
    keys = {s.key() for s in samples}
    assert not keys & train and not keys & heldout


def test_calibration_batches_share_one_sequence_length():
    batches = calibration_batches(batch_size=100)
    assert len({b["input_ids"].shape[1] for b in batches}) == 1
    assert sum(len(b["input_ids"]) for b in batches) == len(load())


def test_layer_selection_on_the_real_graph():
    model = onnx.load(str(onnx_path("fp32")), load_external_data=False)
    selected = int8_nodes(model)
    assert len(selected) == 24  # 6 layers x (Q, K, V, attention output)
    kept = keep_fp32_nodes(model)
    # the palette and font scoring MatMuls and the palette rule count (features x rule table) added to the former
    assert len(kept) == 3 and not set(kept) & set(selected)
