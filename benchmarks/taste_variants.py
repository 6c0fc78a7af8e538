"""The taste replay with a learner or feature variant patched in, for comparing variants on the same seeds.

    .venv/bin/python -m benchmarks.taste_variants VARIANT [taste_replay args, e.g. --seeds 5 --heldout 300 --events 50]

VARIANT joins any of these with "+" (docs/learning.md, "Tried on 2026-12-04, later"; none is in the trainer):
- base: the trainer as it is;
- evw: each event's pairs weighted to sum to one event (answers with many schemes no longer count more);
- bag: the scaled weights averaged over TB (default 30) bootstrap resamples of the tenant's events;
- topk: all but the TK (default 4) largest fitted weights set to 0 before scaling;
- bgl: a palette feature "background lightness" (the background's OKLCH L; palettes without one get the mean);
- bg: "background lightness" and "background chroma".
TC overrides the trainer's C for evw / bag / topk. The feature variants change the layout (patched here only).
"""
import os, sys
import numpy as np

variant = sys.argv.pop(1)
parts = set(variant.split("+"))

import pipeline.taste as taste

if "bg" in parts or "bgl" in parts:
    orig = taste._palette_raw
    def _palette_raw():
        raw, names = orig()
        from knowledge.fit_tables import library_colours, ROLES
        c = library_colours()
        bg = ROLES.index("background")
        L, C = c.lch[:, bg, 0], c.lch[:, bg, 1]
        mL, mC = np.nanmean(L), np.nanmean(C)
        L = np.where(c.present[:, bg], L, mL); C = np.where(c.present[:, bg], C, mC)
        if "bgl" in parts:
            return np.concatenate([raw, L[:, None]], 1), names + ["background lightness"]
        return np.concatenate([raw, L[:, None], C[:, None]], 1), names + ["background lightness", "background chroma"]
    taste._palette_raw = _palette_raw

import learning.train as lt
from sklearn.linear_model import LogisticRegression

def pairs_with_events(events):
    diffs, ev = [], []
    used = 0
    for event in events:
        try:
            rows = lt.scheme_rows(event["choices"])
        except KeyError:
            continue
        k = event["scheme_index"]
        others = np.delete(rows, k, axis=0)
        if not len(others):
            continue
        diff = rows[k] - others if event["action"] == "chosen" else others - rows[k]
        diff = diff[np.abs(diff).sum(axis=1) > 1e-12]
        if len(diff):
            diffs.append(diff); ev += [used] * len(diff); used += 1
    return np.concatenate(diffs), np.array(ev), used

def fit(d, sw, c):
    x = np.concatenate([d, -d]); y = np.r_[np.ones(len(d)), np.zeros(len(d))]
    m = LogisticRegression(C=c, fit_intercept=False, max_iter=1000)
    m.fit(x, y, sample_weight=np.r_[sw, sw])
    return m.coef_[0].astype(np.float64)

def scale(coef, d):
    spread = np.sqrt(np.mean((d @ coef) ** 2))
    return coef * (lt.PREFERENCE_LOGITS / spread) if spread > 1e-12 else coef

C = float(os.environ.get("TC", lt.REGULARISATION_C))
B = int(os.environ.get("TB", 30))

def weights_for(tenant_events):
    d, ev, used = pairs_with_events(tenant_events)
    per = np.bincount(ev)
    sw = np.ones(len(d))
    if "evw" in parts:
        sw = 1.0 / per[ev]; sw *= len(d) / sw.sum()
    if "bag" in parts:
        rng = np.random.default_rng(len(d) * 1000003 + used)
        acc = np.zeros(d.shape[1])
        for b in range(B):
            draw = np.bincount(rng.integers(used, size=used), minlength=used).astype(float)
            w = sw * draw[ev]
            keep = w > 0
            coef = fit(d[keep], w[keep], C)
            acc += scale(coef, d)
        coef = acc / B
    else:
        coef = fit(d, sw, C)
    if "topk" in parts:
        k = int(os.environ.get("TK", 4))
        coef = np.where(np.abs(coef) >= np.sort(np.abs(coef))[-k], coef, 0.0)
    return scale(coef, d), used

from collections import defaultdict
def train(events, progress=lambda it: it, c=None, penalty=None):
    by = defaultdict(list)
    for e in events:
        by[e["tenant"]].append(e)
    W, N = {}, {}
    for t in sorted(by):
        W[t], N[t] = weights_for(by[t])
    if not W:
        return None
    return lt.TasteModel.build(W, N, max(e["created_at"] for e in events))

if parts - {"base", "bg", "bgl"}:  # otherwise the real trainer (with bg / bgl: on the patched features)
    lt.train = train

sys.argv = ["taste_replay"] + sys.argv[1:]
from benchmarks import taste_replay
taste_replay.main()
