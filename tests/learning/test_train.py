"""The trainer (learning.train) and its command (python -m learning) on a real answer log (serve_app.feedback)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from knowledge.fonts import load_font_pairs
from knowledge.palettes import load_palettes
from learning.train import PREFERENCE_LOGITS, REGULARISATION_C, fit_weights, preference_pairs, train
from pipeline.taste import STYLES, TasteModel, feature_tables
from serve_app.feedback import AnswerRecord, FeedbackStore


def scheme(palette: str, pair: str, style: str) -> dict:
    return {"palette": {"id": palette}, "typography": {"pair_id": pair}, "style": {"id": style},
            "layout": {"template_id": None}}


@pytest.fixture(scope="module")
def library():
    faces = {p.id: p for p in load_font_pairs()}
    t = feature_tables()
    serif = [i for i, c in enumerate(t.font[:, t.font_names.index("heading serif")]) if c > 0]
    other = [i for i, c in enumerate(t.font[:, t.font_names.index("heading serif")]) if c <= 0]
    ids = list(faces)
    return [p.id for p in load_palettes()], [ids[i] for i in serif], [ids[i] for i in other]


def events_for(tenant: str, library, n: int, rng, serif_lover: bool) -> list[dict]:
    palettes, serif, other = library
    events = []
    for k in range(n):
        choices = [{"palette": palettes[rng.integers(len(palettes))], "font_pair": pair, "style": "minimalist"}
                   for pair in (serif[rng.integers(len(serif))], other[rng.integers(len(other))],
                                other[rng.integers(len(other))])]
        pick = 0 if serif_lover else 1 + int(rng.integers(2))
        events.append({"tenant": tenant, "choices": choices, "scheme_index": pick, "action": "chosen",
                       "created_at": 1_780_000_000.0 + k})
    return events


def test_a_consistent_choice_is_learned_per_tenant(library):
    rng = np.random.default_rng(0)
    events = events_for("acme", library, 30, rng, True) + events_for("beta", library, 30, rng, False)
    model = train(events)
    names = feature_tables().names
    serif = names.index("heading serif")
    acme, beta = (model.weights[list(model.tenants).index(t)] for t in ("acme", "beta"))
    assert acme[serif] > 0.5 and np.argmax(np.abs(acme)) == serif
    assert beta[serif] < -0.5
    assert model.describe("acme")["preferences"][0]["feature"] == "heading serif"
    assert model.trained_at == max(e["created_at"] for e in events)


def noisy_serif_lover(library, rng, n: int = 50, noise: float = 0.2) -> list[dict]:
    """A designer who picks one of two serif-headed schemes, a fifth of the time one of two others; palettes and
    styles are random, so every weight on them is noise."""
    palettes, serif, other = library
    events = []
    for k in range(n):
        pairs = [serif[rng.integers(len(serif))], serif[rng.integers(len(serif))],
                 other[rng.integers(len(other))], other[rng.integers(len(other))]]
        choices = [{"palette": palettes[rng.integers(len(palettes))], "font_pair": pair,
                    "style": STYLES[rng.integers(len(STYLES))]} for pair in pairs]
        pick = int(rng.integers(2)) if rng.random() >= noise else 2 + int(rng.integers(2))
        events.append({"tenant": "acme", "choices": choices, "scheme_index": pick, "action": "chosen",
                       "created_at": float(k)})
    return events


def test_fifty_noisy_choices_outweigh_the_features_they_were_not_made_by(library):
    # Over 10 designers: the serif weight against the largest weight on a palette or style feature. With the old
    # weak regularisation (C = 3), unscaled, the noise fitted nearly as much as the taste (measured:
    # mean ratio 0.57 then, 0.97 now).
    t = feature_tables()
    dp, df = len(t.palette_names), len(t.font_names)
    serif = t.names.index("heading serif")
    ratios = []
    for seed in range(10):
        w = train(noisy_serif_lover(library, np.random.default_rng(seed))).weights[0]
        ratios.append(w[serif] / np.abs(np.r_[w[:dp], w[dp + df:]]).max())
    assert np.mean(ratios) > 0.7, ratios


def test_the_taste_is_scaled_to_a_decisive_strength(library):
    # However strong the regularisation, a typical pair of the tenant's own schemes ends PREFERENCE_LOGITS apart,
    # so the bonus (reach x tanh) is not left too small to re-rank anything.
    events = noisy_serif_lover(library, np.random.default_rng(0))
    differences, _ = preference_pairs(events)
    for c in (0.01, REGULARISATION_C, 1.0):
        w = fit_weights(differences, c=c)
        assert np.sqrt(np.mean((differences @ w) ** 2)) == pytest.approx(PREFERENCE_LOGITS)


def test_rejections_teach_the_other_way(library):
    rng = np.random.default_rng(1)
    events = events_for("acme", library, 20, rng, True)
    for e in events:
        e["action"] = "rejected"  # the serif scheme rejected every time
    differences, used = preference_pairs(events)
    assert used == 20 and differences.shape[1] == feature_tables().width
    assert train(events).weights[0][feature_tables().names.index("heading serif")] < -0.5


def test_events_naming_unknown_ids_are_skipped_and_no_events_train_nothing(library):
    event = {"tenant": "acme", "choices": [{"palette": "gone", "font_pair": "gone", "style": "minimalist"}] * 2,
             "scheme_index": 0, "action": "chosen", "created_at": 1.0}
    assert train([event]) is None and train([]) is None


def test_the_command_trains_from_the_log_and_writes_a_versioned_artefact(tmp_path, library):
    palettes, serif, other = library
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    try:
        for k in range(6):
            schemes = [scheme(palettes[k], serif[k], "elegant_classic"),
                       scheme(palettes[k + 1], other[k], "minimalist")]
            store.record_answer(AnswerRecord.from_schemes(f"req-{k:04d}", "acme", "{}", "m", schemes))
            store.record_feedback(f"req-{k:04d}", 0, "chosen", "acme")
    finally:
        store.close()
    run = subprocess.run([sys.executable, "-m", "learning", "--db", str(tmp_path / "feedback.sqlite3"),
                          "--out", str(tmp_path / "learner")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    model = TasteModel.load(summary["artefact"])
    assert summary["events"] == 6 and model.version == summary["learner_version"]
    assert summary["artefact"].endswith(f"taste-{model.version}.npz") and model.tenants.tolist() == ["acme"]
    assert "tenants" in run.stderr  # the progress bar
    missing = subprocess.run([sys.executable, "-m", "learning", "--db", str(tmp_path / "nothing.sqlite3")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no feedback database" in missing.stderr
