"""Held-out evaluation: how well a model (any backend, any precision) reproduces the teacher, and whether
its answers have the properties a designer expects.

    python -m evaluation                       # ONNX Runtime, FP32, 1,000 held-out briefs
    python -m evaluation --precision int8      # the INT8 variant
    python -m evaluation --model some.onnx     # any ONNX export of the model
    python -m evaluation --fit-only            # only the fit-to-the-brief tables (issue 15 goals)

Prints a table; exits 1 if any metric misses its threshold (so a broken model fails loudly). Then grades every
scheme against the frozen definitions of what a brief asks (`evaluation.fit`, docs/teacher.md "Measurable
definitions") on held-out briefs written in en and in zh, and exits 2 if only one of those GOALS is missed
(`--no-goals`: report them, exit on THRESHOLDS alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from contract.brief import Brief
from evaluation.fit import TONES, Grade, grade, library_ceiling
from evaluation.keyword_probe import (
    LANGUAGES as PROBE_LANGUAGES, honoured, library_chance, load_probe, probe_briefs, probe_metrics,
)
from evaluation.metrics import layout_alignment, layout_overlap, ndcg_at_k, palette_distance
from inference.base import InferenceBackend
from knowledge.attributes import load_attributes
from knowledge.colors import contrast_ratio, hex_to_oklch
from knowledge.fonts import load_font_pairs
from knowledge.taxonomy import Locale
from model.briefs import BriefSample, generate_briefs, in_language
from model.dataset import brief_arrays
from model.design_tensors import load_design_tensors
from pipeline.features import EncodedBatch, encode_brief
from pipeline.postprocess import schemes_batch
from model.teacher import SEMANTIC_BEFORE, Teacher
from pipeline.tokenization import pad_batch

# Pass criteria. Set from what the trained model reaches with margin, and far above what random weights
# reach (tests/model/test_evaluation.py checks both sides).
THRESHOLDS = {
    "ndcg5_style": (">=", 0.80),
    # 0.45 since issue 15: the rule terms tie hundreds of palettes that meet a brief, so the order among them (the
    # soft terms) is what NDCG reads; the retrained model reaches 0.509 on 1,000 briefs (docs/model.md).
    "ndcg5_palette": (">=", 0.45),
    "ndcg5_font": (">=", 0.50),
    "text_contrast_ok": (">=", 1.0),
    "morandi_low_chroma": (">=", 0.80),
    "neon_high_chroma": (">=", 0.80),
    "earthy_hues": (">=", 0.70),
    "zh_en_style_agree": (">=", 0.60),
    "zh_en_palette_overlap5": (">=", 0.40),
    "scheme_delta_e_mean": (">=", 10.0),
    "layout_overlap": ("<=", 0.10),
    "layout_alignment": ("<=", 0.20),
}
EARTHY_HUES = [(40.0, 95.0), (105.0, 160.0)]  # OKLCH browns/ochres and greens
BATCH = 64
# Issue 15's "Done when", graded by evaluation.fit. Kept apart from THRESHOLDS: those say the model works (tests
# rely on them); these say the answers fit their briefs, and today's model misses them.
GOALS = {
    "fit_all_en": (">=", 0.95),
    "fit_all_zh": (">=", 0.95),
    "font_suits_style_en": (">=", 0.95),  # not a number of the issue: its 95 % bar applied to "type that suits"
    "font_suits_style_zh": (">=", 0.95),
    "text_contrast_all": (">=", 1.0),
    "pairs_distinct": (">=", 1.0),
    "zh_en_parity": (">=", 0.95),
    "zh_en_parity_independent": (">=", 0.95),  # the same bar on hand-translated pairs (evaluation/parity)
    "probe": (">=", 0.90),  # keyword probe (evaluation/probe): keywords no shipped list holds, en and zh together
}
FIT_BRIEFS = 300
# zh/en brief pairs translated by hand, independently of the runtime lexicon (issue 15: "the pairs are written
# independently of the runtime lexicon"); the lexicon-generated pairs of `in_language` stay as the first row.
PARITY_PAIRS_PATH = Path(__file__).parent / "parity" / "pairs.json"
PARITY_SCHEMES = 3
# The model's own fit (issue 15: "the model, not only post-processing rules, carries it"): floors the retrained
# model alone clears with margin and random weights do not (tests/model/test_evaluation.py checks both sides).
# Checked like THRESHOLDS whenever the fit tables run.
FIT_FLOORS = {
    "fit_all_en_model_alone": (">=", 0.40),
    "fit_all_zh_model_alone": (">=", 0.40),
    "font_suits_style_en_model_alone": (">=", 0.80),
    "font_suits_style_zh_model_alone": (">=", 0.80),
}


def run_model(backend: InferenceBackend, samples: list[BriefSample], normalize_chinese: bool = True):
    encoded = [encode_brief(s.brief, s.reference_colors, normalize_chinese) for s in samples]
    outputs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(encoded), BATCH):
        chunk = encoded[start : start + BATCH]
        ids, mask = pad_batch([e.token_ids for e in chunk])
        result = backend.infer(ids, mask, np.stack([e.features for e in chunk]))
        for name, value in result.items():
            outputs.setdefault(name, []).append(value)
    return encoded, {k: np.concatenate(v) for k, v in outputs.items()}


def teacher_outputs(samples: list[BriefSample], teacher: Teacher) -> dict[str, np.ndarray]:
    """The teacher's own rankings shaped like the model's outputs (top-k as the graph cuts them): graded like an
    answer, they show what distillation could at best reach (`--teacher`)."""
    import torch

    from model.net import TOP_FONTS, TOP_PALETTES

    target = teacher(*brief_arrays(samples, progress=False).tensors())
    palette_scores, palette_ids = torch.topk(target.palette_scores, TOP_PALETTES, dim=-1)
    font_scores, font_ids = torch.topk(target.font_scores, TOP_FONTS, dim=-1)
    return {"style_probs": target.style_probs.numpy(), "palette_scores": palette_scores.numpy(),
            "palette_ids": palette_ids.numpy().astype(np.int32), "font_scores": font_scores.numpy(),
            "font_ids": font_ids.numpy().astype(np.int32), "layout": target.layout.numpy()}


def answer_schemes(samples: list[BriefSample], encoded, outputs: dict[str, np.ndarray]) -> list[list[dict]]:
    """Each brief's schemes (contract-shaped dicts) through `schemes_batch`, in the serving batch size."""
    out = []
    for start in range(0, len(samples), BATCH):
        rows = slice(start, start + BATCH)
        out += schemes_batch([s.brief for s in samples[rows]], EncodedBatch.from_rows(encoded[rows]),
                             {k: v[rows] for k, v in outputs.items()})
    return out


def _color(scheme: dict, role: str) -> str:
    return next(c["hex"] for c in scheme["palette"]["colors"] if c["role"] == role)


def ranking_metrics(samples, outputs) -> dict[str, float]:
    """NDCG@5 of the model's rankings against the teacher's targets; against the teacher before its keyword-semantics
    terms were weakened (`*_semantic_teacher`: `Teacher(semantic=SEMANTIC_BEFORE)`); and against the teacher before
    issue 15 (`*_old_teacher`: `Teacher(rules=False, semantic=SEMANTIC_BEFORE)`). A retrained model is read against
    each."""
    arrays = brief_arrays(samples, progress=False)
    tensors = load_design_tensors()
    n = len(samples)
    metrics = {}
    for suffix, teacher in (("", Teacher(tensors)), ("_semantic_teacher", Teacher(tensors, semantic=SEMANTIC_BEFORE)),
                            ("_old_teacher", Teacher(tensors, rules=False, semantic=SEMANTIC_BEFORE))):
        target = teacher(*arrays.tensors())
        style_gain = target.style_probs.numpy()
        palette_gain = target.palette_probs().numpy()
        font_gain = target.font_probs().numpy()
        metrics |= {
            f"ndcg5_style{suffix}": float(np.mean([ndcg_at_k(np.argsort(-outputs["style_probs"][i]), style_gain[i])
                                                   for i in range(n)])),
            f"ndcg5_palette{suffix}": float(np.mean([ndcg_at_k(outputs["palette_ids"][i], palette_gain[i])
                                                     for i in range(n)])),
            f"ndcg5_font{suffix}": float(np.mean([ndcg_at_k(outputs["font_ids"][i], font_gain[i]) for i in range(n)])),
        }
    return metrics


def _mean_chroma(scheme, exclude=("text",)) -> float:
    return float(np.mean([hex_to_oklch(c["hex"])[1] for c in scheme["palette"]["colors"] if c["role"] not in exclude]))


def _in_hues(hue: float, ranges) -> bool:
    return any(lo <= hue <= hi for lo, hi in ranges)


def answer_metrics(samples, encoded, outputs) -> dict[str, float]:
    contrast_ok, distances, overlaps, alignments = [], [], [], []
    for schemes in answer_schemes(samples, encoded, outputs):
        for s in schemes:
            contrast_ok.append(contrast_ratio(_color(s, "text"), _color(s, "background")) >= 4.5)
            boxes = s["layout"]["boxes"]
            overlaps.append(layout_overlap(boxes))
            alignments.append(layout_alignment(boxes))
        signature = [[_color(s, r) for r in ("background", "primary", "accent")] for s in schemes]
        for a in range(len(signature)):
            for b in range(a + 1, len(signature)):
                distances.append(palette_distance(signature[a], signature[b]))
    return {
        "text_contrast_ok": float(np.mean(contrast_ok)),
        "scheme_delta_e_mean": float(np.mean(distances)) if distances else 0.0,
        "scheme_delta_e_min": float(np.min(distances)) if distances else 0.0,
        "layout_overlap": float(np.mean(overlaps)),
        "layout_alignment": float(np.mean(alignments)),
    }


def tone_probes(n_per_tone: int) -> dict[str, list[BriefSample]]:
    """Held-out briefs re-aimed at one tone, without colours that could pull the palette elsewhere."""
    base = generate_briefs(n_per_tone, "heldout")
    probes = {}
    for tone in ("morandi", "neon", "earthy"):
        probes[tone] = [
            BriefSample(brief=s.brief.model_copy(update={"tone": [tone], "brand_colors": [], "num_schemes": 3}),
                        terms=s.terms, language=s.language)
            for s in base
        ]
    return probes


def tone_metrics(backend, n_per_tone: int) -> dict[str, float]:
    if n_per_tone <= 0:
        return {}  # skipped: a mean over no briefs is nan, which every threshold fails
    checks = {
        "morandi": ("morandi_low_chroma", lambda s: _mean_chroma(s) <= 0.08),
        # Neon colours sit on a dark ground: the ground and the text are not what makes a palette neon.
        "neon": ("neon_high_chroma", lambda s: _mean_chroma(s, ("text", "background")) >= 0.15),
        "earthy": ("earthy_hues", lambda s: _dominant_hue_in(s, EARTHY_HUES)),
    }
    out = {}
    for tone, samples in tone_probes(n_per_tone).items():
        encoded, outputs = run_model(backend, samples)
        name, check = checks[tone]
        hits = [check(s) for schemes in answer_schemes(samples, encoded, outputs) for s in schemes]
        out[name] = float(np.mean(hits))
    return out


def _dominant_hue_in(scheme, ranges) -> bool:
    chromatic = [hex_to_oklch(c["hex"]) for c in scheme["palette"]["colors"] if c["role"] != "text"]
    chromatic = [(c, h) for _, c, h in chromatic if c >= 0.03]
    if not chromatic:
        return False
    angles = np.radians([h for _, h in chromatic])
    weights = np.array([c for c, _ in chromatic])
    hue = float(np.degrees(np.arctan2((weights * np.sin(angles)).sum(), (weights * np.cos(angles)).sum())) % 360)
    return _in_hues(hue, ranges)


def language_metrics(backend, samples: list[BriefSample], normalize_chinese: bool) -> dict[str, float]:
    """Same brief with English vs Chinese keywords (locale fixed to en so only the language differs)."""
    paired = [s for s in samples if s.terms][:300]
    en = [in_language(s, "en") for s in paired]
    zh = [in_language(s, "zh") for s in paired]
    for group in (en, zh):
        for s in group:
            s.brief = s.brief.model_copy(update={"locale": Locale.en})
    _, out_en = run_model(backend, en)
    _, out_zh = run_model(backend, zh, normalize_chinese)
    style_agree = np.mean(out_en["style_probs"].argmax(1) == out_zh["style_probs"].argmax(1))
    overlap = np.mean([len(set(a[:5]) & set(b[:5])) / 5.0 for a, b in zip(out_en["palette_ids"], out_zh["palette_ids"])])
    return {"zh_en_style_agree": float(style_agree), "zh_en_palette_overlap5": float(overlap)}


def evaluate(backend: InferenceBackend, n_briefs: int = 1000, n_tone: int = 60, normalize_chinese: bool = True) -> dict:
    started = time.perf_counter()
    samples = generate_briefs(n_briefs, "heldout")
    encoded, outputs = run_model(backend, samples, normalize_chinese)
    metrics = ranking_metrics(samples, outputs)
    metrics |= answer_metrics(samples, encoded, outputs)
    metrics |= tone_metrics(backend, n_tone)
    metrics |= language_metrics(backend, samples, normalize_chinese)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return metrics


def verdicts(metrics: dict, thresholds: dict | None = None) -> dict[str, bool]:
    thresholds = THRESHOLDS if thresholds is None else thresholds
    return {k: (metrics[k] >= v if op == ">=" else metrics[k] <= v) for k, (op, v) in thresholds.items() if k in metrics}


# --- fit to the brief (issue 15) ---------------------------------------------------------------------------------


def model_alone_schemes(samples: list[BriefSample], encoded, outputs: dict[str, np.ndarray]) -> list[list[dict]]:
    """The answers with the post-processing's choices taken away: each brief gets the model's top-n palettes and
    top-n font pairs (CJK-capable ones first for zh, as the contract needs) under the model's top style, with the
    brief's rules off (`honour_brief=False`), so `schemes_batch` has nothing left to choose; brand colours, the
    text-contrast fix and layout boxes still apply.
    Briefs run in groups of one scheme count because the candidate arrays must be rectangular."""
    pair_zh = np.array([p.zh for p in load_font_pairs()])
    out: list[list[dict] | None] = [None] * len(samples)
    counts = np.array([s.brief.num_schemes for s in samples])
    for n in np.unique(counts):
        rows = np.flatnonzero(counts == n)
        font_ids = outputs["font_ids"][rows].astype(np.int64)
        font_scores = outputs["font_scores"][rows]
        zh = np.array([samples[i].brief.locale == Locale.zh for i in rows])
        order = np.argsort(~(pair_zh[font_ids] | ~zh[:, None]), axis=1, kind="stable")  # usable pairs first
        font_ids = np.take_along_axis(font_ids, order, 1)[:, :n]
        font_scores = np.take_along_axis(font_scores, order, 1)[:, :n]
        style = outputs["style_probs"][rows]
        picked = {
            "palette_ids": outputs["palette_ids"][rows, :n], "palette_scores": outputs["palette_scores"][rows, :n],
            "font_ids": font_ids, "font_scores": font_scores,
            "style_probs": np.eye(style.shape[1], dtype=style.dtype)[style.argmax(1)],
            "layout": outputs["layout"][rows],
        }
        answers = schemes_batch([samples[i].brief for i in rows], EncodedBatch.from_rows([encoded[i] for i in rows]),
                                picked, honour_brief=False)
        for i, schemes in zip(rows, answers):
            out[i] = schemes
    return out


def _answers_covering(g: Grade) -> np.ndarray:
    """(answers,) every tone and cue the brief names is met (palette and type) by at least one of its schemes."""
    met = np.concatenate([g.tone_met | ~g.tone_named, g.cue_met | ~g.cue_named], axis=1)  # (S, attributes)
    answers = int(g.table.answer.max()) + 1 if len(g.table.answer) else 0
    some = np.zeros((answers, met.shape[1]), bool)
    np.logical_or.at(some, g.table.answer, met)
    return some.all(axis=1)


def _share(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def fit_metrics(g: Grade, suffix: str) -> dict[str, float]:
    named = g.named_any
    answers = np.unique(g.table.answer)
    return {
        f"fit_all_{suffix}": _share(g.all_met[named]),
        f"fit_tones_{suffix}": _share((g.tone_met | ~g.tone_named).all(1)[g.tone_named.any(1)]),
        f"fit_cues_{suffix}": _share((g.cue_met | ~g.cue_named).all(1)[g.cue_named.any(1)]),
        f"font_suits_style_{suffix}": _share(g.font_ok),
        f"heading_suits_style_{suffix}": _share(g.style_heading),
        f"body_suits_style_{suffix}": _share(g.style_body),
        f"palette_suits_style_{suffix}": _share(g.style_palette),
        f"answers_heading_repeated_{suffix}": _share(np.isin(answers, g.table.answer[g.heading_repeat])),
        f"text_contrast_{suffix}": _share(g.contrast >= load_attributes().rules.min_text_contrast),
        f"pairs_distinct_{suffix}": _share(g.pair_distinct),
        f"schemes_{suffix}": float(len(g.table.answer)),
        f"schemes_named_{suffix}": float(named.sum()),
    }


def parity_metrics(en_answers, zh_answers, out_en, out_zh) -> dict[str, float]:
    """Same brief in en and in zh (each with its own locale, as a user would send it): the styles of the schemes
    (Jaccard) and the model's top-5 palettes (overlap)."""
    jaccard = []
    for a, b in zip(en_answers, zh_answers):
        sa, sb = {s["style"]["id"] for s in a}, {s["style"]["id"] for s in b}
        jaccard.append(len(sa & sb) / len(sa | sb))
    rules = load_attributes().rules
    styles_ok = np.array(jaccard) >= rules.parity_style_jaccard
    overlap = np.array([len(set(a[:5]) & set(b[:5])) / 5.0
                        for a, b in zip(out_en["palette_ids"], out_zh["palette_ids"])])
    palettes_ok = overlap >= rules.parity_palette_top5 - 1e-9
    return {
        "zh_en_style_jaccard_ok": _share(styles_ok),
        "zh_en_palette_top5_ok": _share(palettes_ok),
        "zh_en_parity": _share(styles_ok & palettes_ok),
    }


def independent_pairs() -> tuple[list[BriefSample], list[BriefSample]]:
    """The hand-translated pairs as (en samples, zh samples), each with its own locale, three schemes."""
    pairs = json.loads(PARITY_PAIRS_PATH.read_text(encoding="utf-8"))["pairs"]
    out: dict[str, list[BriefSample]] = {"en": [], "zh": []}
    for p in pairs:
        for language in out:
            brief = Brief(product_category=p["category"], package_format=p["package"], tone=p["tones"],
                          keywords=p[language], num_schemes=PARITY_SCHEMES, locale=Locale(language))
            out[language].append(BriefSample(brief=brief, language=language))
    return out["en"], out["zh"]


def independent_parity(backend: InferenceBackend) -> dict[str, float]:
    """`parity_metrics` on the hand-translated pairs, keys suffixed `_independent`."""
    answers, outputs = {}, {}
    for language, samples in zip(("en", "zh"), independent_pairs()):
        encoded, outputs[language] = run_model(backend, samples)
        answers[language] = answer_schemes(samples, encoded, outputs[language])
    metrics = parity_metrics(answers["en"], answers["zh"], outputs["en"], outputs["zh"])
    return {f"{k}_independent": v for k, v in metrics.items()} | {"parity_pairs_independent": float(len(answers["en"]))}


def attribute_rows(g: Grade) -> dict[str, tuple[int, float, float, float]]:
    """attribute -> (schemes whose brief names it, share met, share palette part met, share type part met)."""
    rows = {}
    for k, tone in enumerate(TONES):
        sel = g.tone_named[:, k]
        if sel.any():
            rows[f"tone {tone}"] = (int(sel.sum()), _share(g.tone_met[sel, k]), _share(g.tone_palette[sel, k]),
                                    _share(g.tone_type[sel, k]))
    for k, cue in enumerate(g.cue_ids):
        sel = g.cue_named[:, k]
        if sel.any():
            rows[f"cue {cue}"] = (int(sel.sum()), _share(g.cue_met[sel, k]), float("nan"), float("nan"))
    return rows


def evaluate_fit(backend: InferenceBackend | None, n_briefs: int = FIT_BRIEFS,
                 teacher: Teacher | None = None) -> tuple[dict, dict]:
    """Issue 15's measurement: held-out briefs, each written in en and in zh (keywords from the same lexicon terms,
    locale = language), answered by the full pipeline and by the model alone, graded by `evaluation.fit`.
    With `teacher`, its rankings stand in for the model's (backend unused). -> (metrics, per-attribute rows by
    column)."""
    started = time.perf_counter()
    base = generate_briefs(n_briefs, "heldout")
    runs, metrics, rows = {}, {}, {}
    for language in ("en", "zh"):
        samples = [in_language(s, language) for s in base]
        if teacher is None:
            encoded, outputs = run_model(backend, samples)
        else:
            encoded = [encode_brief(s.brief, s.reference_colors) for s in samples]
            outputs = teacher_outputs(samples, teacher)
        runs[language] = (samples, outputs, answer_schemes(samples, encoded, outputs))
        briefs = [s.brief for s in samples]
        alone = model_alone_schemes(samples, encoded, outputs)
        palette_ok, type_ok = library_ceiling(briefs)
        for mode, answers in (("", runs[language][2]), ("_model_alone", alone)):
            g = grade(briefs, answers)
            metrics |= fit_metrics(g, language + mode)
            # The same share on the briefs the libraries could serve at all: what is left once the briefs that
            # ask for the impossible (tones no palette or font pair meets together) are set aside.
            servable = (palette_ok & type_ok)[g.table.answer] & g.named_any
            metrics[f"fit_all_servable_{language}{mode}"] = _share(g.all_met[servable])
            # Answers in which every named tone and cue is met by some scheme: where one scheme cannot meet them
            # all (contradicting tones), whether the schemes at least take every side the brief asks for.
            covered = _answers_covering(g)
            named_brief = g.named_any[np.searchsorted(g.table.answer, np.arange(len(briefs)))]
            metrics[f"answer_covers_{language}{mode}"] = _share(covered[named_brief])
            metrics[f"answer_covers_unservable_{language}{mode}"] = _share(covered[named_brief & ~(palette_ok & type_ok)])
            rows[language + mode] = attribute_rows(g)
        metrics[f"library_palette_can_{language}"] = _share(palette_ok)
        metrics[f"library_type_can_{language}"] = _share(type_ok)
        metrics[f"library_can_{language}"] = _share(palette_ok & type_ok)
    (_, out_en, en_answers), (_, out_zh, zh_answers) = runs["en"], runs["zh"]
    metrics |= parity_metrics(en_answers, zh_answers, out_en, out_zh)
    metrics |= independent_parity(backend)
    metrics["text_contrast_all"] = min(metrics["text_contrast_en"], metrics["text_contrast_zh"])
    pairs = metrics["pairs_distinct_en"], metrics["pairs_distinct_zh"]
    metrics["pairs_distinct"] = min(pairs)
    metrics["fit_briefs"] = float(n_briefs)
    metrics["fit_seconds"] = round(time.perf_counter() - started, 1)
    return metrics, rows


def format_fit(metrics: dict, rows: dict) -> str:
    """The per-tone/per-cue table and the summary table, as markdown."""
    def cell(r):
        if r is None:
            return ""
        n, met, palette, type_ = r
        return f"{met:.3f}" if np.isnan(palette) else f"{met:.3f} ({palette:.2f} / {type_:.2f})"

    columns = ["en", "en_model_alone", "zh", "zh_model_alone"]
    names = list(dict.fromkeys(k for c in columns for k in rows[c]))
    names.sort(key=lambda k: (not k.startswith("tone"), k))
    lines = ["| attribute | schemes en | en | en, model alone | schemes zh | zh | zh, model alone |",
             "|---|---:|---|---|---:|---|---|"]
    for name in names:
        n_en = rows["en"].get(name, (0,))[0]
        n_zh = rows["zh"].get(name, (0,))[0]
        lines.append(f"| {name} | {n_en} | {cell(rows['en'].get(name))} | {cell(rows['en_model_alone'].get(name))} "
                     f"| {n_zh} | {cell(rows['zh'].get(name))} | {cell(rows['zh_model_alone'].get(name))} |")
    table = "\n".join(lines)

    summary = [
        ("every tone and cue named (schemes naming any)", "fit_all"),
        ("the same, briefs one palette and one font pair could serve (below)", "fit_all_servable"),
        ("answers whose schemes together meet every named tone and cue", "answer_covers"),
        ("the same, briefs one palette and one font pair could not serve", "answer_covers_unservable"),
        ("tones named (schemes naming a tone)", "fit_tones"),
        ("cues named (schemes naming a cue)", "fit_cues"),
        ("type suits the scheme's style (heading and body)", "font_suits_style"),
        ("heading suits the style", "heading_suits_style"),
        ("body legible and suits the style", "body_suits_style"),
        ("palette suits the scheme's own style", "palette_suits_style"),
        ("answers repeating a heading face", "answers_heading_repeated"),
        ("text contrast >= 4.5", "text_contrast"),
        ("scheme pairs distinct", "pairs_distinct"),
        ("schemes (naming any attribute)", "schemes"),
    ]
    out = ["| metric | goal | en | zh | en, model alone | zh, model alone |", "|---|---|---|---|---|---|"]
    for label, key in summary:
        goal = GOALS.get(f"{key}_en")
        goal_text = " ".join(str(x) for x in goal) if goal else ""
        cells = []
        for col in ("en", "zh", "en_model_alone", "zh_model_alone"):
            value = metrics[f"{key}_{col}"]
            if key == "schemes":
                cells.append(f"{value:.0f} ({metrics[f'schemes_named_{col}']:.0f})")
                continue
            ok = verdicts({f"{key}_{col}": value}, GOALS).get(f"{key}_{col}")
            cells.append(f"{value:.3f}" + ("" if ok is None else (" ✓" if ok else " ✗")))
        out.append(f"| {label} | {goal_text} | " + " | ".join(cells) + " |")
    for label, key in (("briefs one library palette could serve (every tone and cue named)", "library_palette_can"),
                       ("briefs one font pair could serve (every tone named, first scheme)", "library_type_can"),
                       ("briefs both could serve (ceiling for the first row)", "library_can")):
        out.append(f"| {label} | | {metrics[key + '_en']:.3f} | {metrics[key + '_zh']:.3f} | | |")
    ok = verdicts(metrics, GOALS)
    for label, key in (("text contrast >= 4.5, all schemes", "text_contrast_all"),
                       ("scheme pairs distinct, all answers", "pairs_distinct"),
                       ("zh/en: style sets Jaccard >= 0.5", "zh_en_style_jaccard_ok"),
                       ("zh/en: palette top-5 overlap >= 0.8", "zh_en_palette_top5_ok"),
                       ("zh/en parity (both)", "zh_en_parity"),
                       ("zh/en, hand-translated pairs: style sets Jaccard >= 0.5", "zh_en_style_jaccard_ok_independent"),
                       ("zh/en, hand-translated pairs: palette top-5 overlap >= 0.8",
                        "zh_en_palette_top5_ok_independent"),
                       ("zh/en parity, hand-translated pairs (both)", "zh_en_parity_independent")):
        goal = " ".join(str(x) for x in GOALS[key]) if key in GOALS else ""
        mark = "" if key not in ok else (" ✓" if ok[key] else " ✗")
        out.append(f"| {label} | {goal} | {metrics[key]:.3f}{mark} | | | |")
    return table + "\n\n" + "\n".join(out)


# --- keyword probe (issue 15) ------------------------------------------------------------------------------------


def evaluate_probe(backend: InferenceBackend) -> dict:
    """The probe keywords (`evaluation.keyword_probe`) answered by the full pipeline and by the model alone, the same
    request path as the held-out briefs."""
    started = time.perf_counter()
    briefs, owner = probe_briefs()
    samples = [BriefSample(brief=b, language=b.locale.value) for b in briefs]
    encoded, outputs = run_model(backend, samples)
    metrics = {}
    for suffix, answers in (("", answer_schemes(samples, encoded, outputs)),
                            ("_model_alone", model_alone_schemes(samples, encoded, outputs))):
        hit, keyword = honoured(briefs, answers, owner)
        metrics |= probe_metrics(hit, keyword, suffix=suffix)
    metrics |= library_chance()
    metrics["probe_seconds"] = round(time.perf_counter() - started, 1)
    return metrics


def format_probe(metrics: dict) -> str:
    ok = verdicts(metrics, GOALS)
    lines = ["| probe | goal | " + " | ".join(PROBE_LANGUAGES) + " | all | "
             + " | ".join(f"{x}, model alone" for x in PROBE_LANGUAGES) + " | all, model alone |",
             "|---|---|" + "---|" * (2 * len(PROBE_LANGUAGES) + 2)]
    goal = " ".join(str(x) for x in GOALS["probe"])
    for label, key in (("schemes with a visible colour in the keyword's region", "probe"),
                       ("keywords honoured by every scheme of every context", "probe_keywords_all")):
        cells = []
        for suffix in ("", "_model_alone"):
            cells += [f"{metrics[f'{key}_{lang}{suffix}']:.3f}" for lang in PROBE_LANGUAGES]
            total = metrics.get(f"{key}{suffix}")
            mark = "" if f"{key}{suffix}" not in ok else (" ✓" if ok[f"{key}{suffix}"] else " ✗")
            cells.append("" if total is None else f"{total:.3f}{mark}")
        lines.append(f"| {label} | {goal if key == 'probe' else ''} | " + " | ".join(cells) + " |")
    chance = [f"{metrics[f'probe_chance_{lang}']:.3f}" for lang in PROBE_LANGUAGES] + [f"{metrics['probe_chance']:.3f}"]
    lines.append("| a library palette drawn blind (chance) | | " + " | ".join(chance) + " | | | |")
    return "\n".join(lines)


def format_table(columns: dict[str, dict]) -> str:
    names = list(columns)
    keys = [k for k in next(iter(columns.values())) if k != "seconds"]
    header = "| metric | goal | " + " | ".join(names) + " |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    for key in keys:
        goal = " ".join(str(x) for x in THRESHOLDS[key]) if key in THRESHOLDS else ""
        cells = []
        for name in names:
            value = columns[name].get(key)
            ok = verdicts(columns[name]).get(key)
            mark = "" if ok is None else (" ✓" if ok else " ✗")
            cells.append(f"{value:.3f}{mark}" if isinstance(value, float) else str(value))
        lines.append(f"| {key} | {goal} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    parser.add_argument("--model", type=Path, help="an ONNX file instead of the assembled one")
    parser.add_argument("--briefs", type=int, default=1000)
    parser.add_argument("--tone-briefs", type=int, default=60, help="held-out briefs per tone probe (0: skip)")
    parser.add_argument("--raw-chinese", action="store_true", help="feed Chinese keywords un-normalised")
    parser.add_argument("--json", type=Path, help="also write the metrics here")
    parser.add_argument("--fit-briefs", type=int, default=FIT_BRIEFS,
                        help="held-out briefs for the fit-to-the-brief tables, each run in en and zh (0: skip)")
    parser.add_argument("--fit-only", action="store_true", help="only the fit-to-the-brief tables")
    parser.add_argument("--no-goals", action="store_true",
                        help="report the issue-15 GOALS but exit on THRESHOLDS alone")
    parser.add_argument("--teacher", choices=["new", "old"],
                        help="only the fit-to-the-brief tables, grading the teacher's own rankings (old: before the "
                             "rule terms) in place of the model's")
    args = parser.parse_args()
    if (args.fit_only or args.teacher) and args.fit_briefs <= 0:
        parser.error(f"--{'fit-only' if args.fit_only else 'teacher'} runs only the fit-to-the-brief tables, which "
                     f"--fit-briefs {args.fit_briefs} skips")
    if args.teacher:
        fit, rows = evaluate_fit(None, args.fit_briefs,
                                 Teacher(load_design_tensors(), rules=args.teacher == "new"))
        print(f"Fit to the brief, the {args.teacher} teacher's rankings as the model's: {fit['fit_briefs']:.0f} "
              f"held-out briefs in en and zh; {fit['fit_seconds']} s")
        print(format_fit(fit, rows))
        sys.exit(0)

    from inference.onnxruntime_backend import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(precision=args.precision, model_path=str(args.model) if args.model else None)
    metrics: dict = {}
    if not args.fit_only:
        metrics = evaluate(backend, args.briefs, args.tone_briefs, not args.raw_chinese)
        name = f"onnxruntime-{args.precision}" + ("-raw-zh" if args.raw_chinese else "")
        print(format_table({name: metrics}))
        print(f"({args.briefs} held-out briefs, {metrics['seconds']} s)")
    thresholds_ok = all(verdicts(metrics).values())
    goals_ok = True
    if args.fit_briefs > 0:
        fit, rows = evaluate_fit(backend, args.fit_briefs)
        print(f"\nFit to the brief: {fit['fit_briefs']:.0f} held-out briefs, each in en and in zh "
              f"(cells: share met (palette part / type part)); {fit['fit_seconds']} s")
        print(format_fit(fit, rows))
        floors = verdicts(fit, FIT_FLOORS)
        print("model-alone floors: " + ", ".join(
            f"{k} {fit[k]:.3f} {' '.join(map(str, FIT_FLOORS[k]))} {'✓' if ok else '✗'}" for k, ok in floors.items()))
        metrics |= fit
        thresholds_ok = thresholds_ok and all(floors.values())
        probe = evaluate_probe(backend)
        print(f"\nKeyword probe: {len(load_probe())} keywords in no shipped list "
              f"({probe['probe_keywords_en']:.0f} en, {probe['probe_keywords_zh']:.0f} zh), each in "
              f"{len(probe_briefs()[0]) // len(load_probe())} contexts; {probe['probe_seconds']} s")
        print(format_probe(probe))
        metrics |= probe
        goals_ok = all(verdicts(fit | probe, GOALS).values())
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2) + "\n")
    sys.exit(0 if thresholds_ok and (goals_ok or args.no_goals) else (1 if not thresholds_ok else 2))


if __name__ == "__main__":
    main()
