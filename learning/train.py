"""Pairwise logistic regression per tenant: a chosen scheme beats every other scheme of its answer, a rejected
one loses to every other. The score of a scheme is w . phi(palette, font pair, style) (`pipeline.taste` features,
standardised over the library), so the weights split into the palette, font and style terms post-processing adds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np
from sklearn.linear_model import LogisticRegression

from pipeline.taste import TasteModel, feature_tables

# Inverse regularisation (scikit-learn's C) and penalty, chosen on the replay (docs/learning.md). 50 events of which
# a fifth are off taste, and most pairs of an on-taste choice differ in features the designer does not choose by:
# strong L2 (C = 0.03) keeps the weights near the mean preferred-minus-other difference, which averages that noise
# out, where a weak one (C = 3) fits it (spurious weights as large as the true one). L2 keeps correlated features
# (serif headings and the styles that take them) sharing the weight.
REGULARISATION_C = 0.03
PENALTY = "l2"
# Strong regularisation also shrinks the weights towards 0, and the bonuses are reach x tanh(score): left small,
# the taste would lose to the model's relevance it is meant to re-rank. So the fitted direction is scaled to a
# fixed strength: the tenant's preferred scheme scores PREFERENCE_LOGITS above the other of a typical pair of its
# own (root mean square over its pairs; 3 logits is a 95 % preference), whatever C.
PREFERENCE_LOGITS = 3.0


def scheme_rows(choices: list[dict]) -> np.ndarray:
    """An answer's logged choices ([{palette, font_pair, style, ...}] in answer order) -> (n, d) feature rows.
    Ids no longer in the library (an older knowledge base) raise KeyError: such events are skipped by the caller."""
    t = feature_tables()
    palette = np.array([t.palette_index[c["palette"]] for c in choices])
    font = np.array([t.font_index[c["font_pair"]] for c in choices])
    style = np.array([t.style_index[c["style"]] for c in choices])
    return t.rows(palette, font, style)


def preference_pairs(events: Iterable[dict]) -> tuple[np.ndarray, int]:
    """Events of one tenant -> (n, d) differences `preferred - other` and the number of events used."""
    differences, used = [], 0
    for event in events:
        try:
            rows = scheme_rows(event["choices"])
        except KeyError:
            continue
        k = event["scheme_index"]
        others = np.delete(rows, k, axis=0)
        if not len(others):
            continue
        diff = rows[k] - others if event["action"] == "chosen" else others - rows[k]
        diff = diff[np.abs(diff).sum(axis=1) > 1e-12]  # schemes alike in every feature say nothing
        if len(diff):
            differences.append(diff)
            used += 1
    return (np.concatenate(differences) if differences else np.zeros((0, feature_tables().width))), used


def fit_weights(differences: np.ndarray, c: float = REGULARISATION_C, penalty: str = PENALTY) -> np.ndarray:
    """Bradley-Terry by logistic regression on differences (both signs, no intercept) -> (d,) weights, scaled so
    that a typical pair of the tenant's differs by PREFERENCE_LOGITS."""
    x = np.concatenate([differences, -differences])
    y = np.concatenate([np.ones(len(differences)), np.zeros(len(differences))])
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=1000, l1_ratio=1.0 if penalty == "l1" else 0.0,
                               solver="liblinear" if penalty == "l1" else "lbfgs")
    model.fit(x, y)
    coef = model.coef_[0].astype(np.float64)
    spread = np.sqrt(np.mean((differences @ coef) ** 2))
    return coef * (PREFERENCE_LOGITS / spread) if spread > 1e-12 else coef


def train(events: list[dict], progress: Callable[[Iterable], Iterable] = lambda it: it,
          c: float = REGULARISATION_C, penalty: str = PENALTY) -> TasteModel | None:
    """Events (`FeedbackStore.learning_events` rows) -> every tenant's weights; None when no tenant has a usable
    event. `progress` wraps the per-tenant loop (a progress bar in the command)."""
    by_tenant: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_tenant[event["tenant"]].append(event)
    weights, counts = {}, {}
    for tenant in progress(sorted(by_tenant)):
        differences, used = preference_pairs(by_tenant[tenant])
        if used:
            weights[tenant], counts[tenant] = fit_weights(differences, c, penalty), used
    if not weights:
        return None
    newest = max(e["created_at"] for e in events)
    return TasteModel.build(weights, counts, newest)
