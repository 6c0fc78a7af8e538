"""FROZEN copy of the per-brief post-processing that served before the batch-first rewrite (pipeline/postprocess.py
at commit cd84eba), kept only so `benchmarks.postprocess_bench` can time old against new in one run.

Do not use it anywhere else and do not improve it: it is the baseline. Its answers are the golden answers
(tests/pipeline/golden_*), so it must stay as it was.
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

from contract.brief import Brief
from contract.scheme import (
    MIN_TEXT_CONTRAST,
    FontChoice,
    Layout,
    Palette,
    PaletteColor,
    Scheme,
    StyleScore,
    Typography,
)
from knowledge.colors import contrast_ratio, delta_e2000, ensure_contrast, library_color_name
from knowledge.fonts import FontPair, load_font_pairs, load_fonts
from knowledge.labels import label, profile
from knowledge.layouts import boxes_from_heatmap, load_layout_templates, render_heatmaps
from knowledge.palettes import load_palettes
from knowledge.taxonomy import LayoutElement, Locale, PaletteRole, Style
from knowledge.design_tables import GRID, oklch_fit, palette_role_lab
from pipeline.features import EncodedBatch, EncodedBrief

MMR_LAMBDA = 0.65  # relevance vs diversity when choosing palettes and font pairs
MIN_PALETTE_DISTANCE = 0.06  # OKLab distance below which two candidate palettes count as the same direction
BRAND_ROLES = (PaletteRole.primary, PaletteRole.accent, PaletteRole.secondary, PaletteRole.highlight)
STYLES = [s.value for s in Style]
ELEMENTS = [e.value for e in LayoutElement]


@cache
def _style_profiles() -> dict[str, dict]:
    # profile() returns a deep copy; read each style's once, not per candidate per request.
    return {s: profile("style", s) for s in STYLES}


@cache
def _style_font_tags() -> dict[str, dict[str, float]]:
    return {s: p.get("font_tags", {}) for s, p in _style_profiles().items()}


def _signature(index: int) -> np.ndarray:
    """A palette's look in one vector: background, primary and accent in OKLab."""
    lab, _ = palette_role_lab()
    return lab[index, [0, 2, 3]].reshape(-1)


def _normalise(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.max() - scores.min())
    return (scores - scores.min()) / spread if spread > 1e-9 else np.ones_like(scores)


def select_palettes(ids: np.ndarray, scores: np.ndarray, n: int) -> list[tuple[int, float]]:
    """MMR over the model's top palettes -> [(palette index, relevance 0-1)]."""
    relevance = _normalise(scores.astype(np.float64))
    signatures = np.stack([_signature(int(i)) for i in ids])
    # All pairwise distances at once (a few hundred), instead of a norm per candidate per round.
    distances = np.sqrt(((signatures[:, None, :] - signatures[None, :, :]) ** 2).sum(-1)) / np.sqrt(3)
    chosen: list[int] = []
    while len(chosen) < min(n, len(ids)):
        best, best_value = -1, -np.inf
        nearest = distances[:, chosen].min(axis=1) if chosen else None
        for c in range(len(ids)):
            if c in chosen:
                continue
            if chosen:
                distance = float(nearest[c])
                if distance < MIN_PALETTE_DISTANCE and len(ids) - len(chosen) > n - len(chosen):
                    continue
                value = MMR_LAMBDA * relevance[c] + (1 - MMR_LAMBDA) * min(1.0, distance / 0.25)
            else:
                value = relevance[c]
            if value > best_value:
                best, best_value = c, value
        if best < 0:  # everything left is a near-duplicate: take the most relevant rest
            best = next(c for c in np.argsort(-relevance) if c not in chosen)
        chosen.append(best)
    return [(int(ids[c]), float(relevance[c])) for c in chosen]


@lru_cache(maxsize=131072)
def _style_fit(palette_index: int, style_index: int) -> float:
    """How well one library palette fits one style's OKLCH profile (fixed data, so computed once)."""
    lab, mask = palette_role_lab()
    rows = slice(palette_index, palette_index + 1)
    return float(oklch_fit(lab[rows], mask[rows], _style_profiles()[STYLES[style_index]])[0])


def assign_styles(style_probs: np.ndarray, palette_indices: list[int]) -> list[int]:
    """Each scheme gets a style that is likely for the brief and fits its palette, preferring unused ones."""
    top = list(np.argsort(-style_probs)[:5])
    used: dict[int, int] = {}
    out = []
    for index in palette_indices:
        best, best_value = top[0], -np.inf
        for s in top:
            fit = _style_fit(int(index), int(s))
            # sqrt flattens a dominant style (0.8 vs 0.08 -> 0.89 vs 0.28) so that, with the repeat
            # penalty, later schemes explore the runner-up directions instead of repeating the first.
            value = np.sqrt(style_probs[s]) * (0.5 + fit) * (0.25 ** used.get(s, 0))
            if value > best_value:
                best, best_value = s, value
        used[best] = used.get(best, 0) + 1
        out.append(int(best))
    return out


@lru_cache(maxsize=16384)
def _mood_match(pair_index: int, style: str) -> float:
    pair = load_font_pairs()[pair_index]
    wanted = _style_font_tags()[style]
    if not wanted:
        return 0.0
    dot = sum(w * pair.mood.get(tag, 0.0) for tag, w in wanted.items())
    norm = np.sqrt(sum(w * w for w in wanted.values())) * np.sqrt(sum(v * v for v in pair.mood.values()) or 1.0)
    return float(dot / norm) if norm else 0.0


def select_fonts(ids: np.ndarray, scores: np.ndarray, styles: list[int], zh: bool) -> list[tuple[int, float]]:
    pairs = load_font_pairs()
    candidates = [(int(i), float(r)) for i, r in zip(ids, _normalise(scores.astype(np.float64)))]
    if zh:
        candidates = [(i, r) for i, r in candidates if pairs[i].zh]
        if not candidates:  # the model ranked no CJK pair: fall back to the whole CJK library
            candidates = [(i, 0.0) for i, p in enumerate(pairs) if p.zh]
    used_headings: set[str] = set()
    out = []
    for style in styles:
        def value(item: tuple[int, float]) -> float:
            i, relevance = item
            repeat = pairs[i].heading_family in used_headings
            return MMR_LAMBDA * relevance + (1 - MMR_LAMBDA) * _mood_match(i, STYLES[style]) - 0.5 * repeat
        best = max(candidates, key=value)
        used_headings.add(pairs[best[0]].heading_family)
        out.append(best)
    return out


def honour_brand_colors(colors: list[dict], brand_colors: list[str]) -> list[dict]:
    """Put each brand colour into the palette in place of the nearest free brand-able role colour."""
    colors = [dict(c) for c in colors]
    free = [i for i, c in enumerate(colors) if c["role"] in BRAND_ROLES]
    for brand in brand_colors:
        if not free:  # more brand colours than roles: the last one becomes the accent
            free = [i for i, c in enumerate(colors) if c["role"] == PaletteRole.accent]
        target = min(free, key=lambda i: delta_e2000(colors[i]["hex"], brand))
        colors[target] = {"hex": brand, "role": colors[target]["role"], "name": library_color_name(brand)}
        free.remove(target)
    return colors


def fix_contrast(colors: list[dict]) -> tuple[list[dict], float]:
    background = next(c for c in colors if c["role"] == PaletteRole.background)
    text = next(c for c in colors if c["role"] == PaletteRole.text)
    if contrast_ratio(text["hex"], background["hex"]) < MIN_TEXT_CONTRAST:
        text["hex"] = ensure_contrast(text["hex"], background["hex"], MIN_TEXT_CONTRAST)
        text["name"] = library_color_name(text["hex"])
    return colors, contrast_ratio(text["hex"], background["hex"])


@cache
def _templates_by_format() -> dict[str, list]:
    out: dict[str, list] = {}
    for template in load_layout_templates():
        out.setdefault(template.format, []).append(template)
    return out


_TEMPLATE_HEATMAPS: dict[str, np.ndarray] = {}


def _template_heatmaps(template) -> np.ndarray:
    # Templates are fixed data: render each once (by id; the template itself is unhashable). Read-only.
    if template.id not in _TEMPLATE_HEATMAPS:
        rendered = render_heatmaps(template, grid=GRID)
        _TEMPLATE_HEATMAPS[template.id] = np.stack([rendered[e] for e in ELEMENTS])
    return _TEMPLATE_HEATMAPS[template.id]


def build_layout(heatmaps: np.ndarray, package_format: str, style: str, blend: float) -> Layout:
    """The model's heatmaps, blended with the format template that best suits this scheme's style."""
    templates = _templates_by_format().get(package_format, [])
    template = max(templates, key=lambda t: t.styles.get(style, 0.0)) if templates else None
    maps = heatmaps.astype(np.float64)
    if template is not None and blend > 0:
        maps = (1 - blend) * maps + blend * _template_heatmaps(template)
    maps = np.clip(maps, 0.0, 1.0)
    boxes = {}
    for j, element in enumerate(ELEMENTS):
        peak = float(maps[j].max())
        # Threshold relative to the peak so a faint but well-placed heatmap still yields a box.
        box = boxes_from_heatmap(maps[j], threshold=max(0.05, 0.5 * peak))
        boxes[element] = [round(float(v), 4) for v in box]
    return Layout(
        format=package_format,
        template_id=template.id if template else None,
        grid=list(GRID),
        heatmaps={e: np.round(maps[j], 3).tolist() for j, e in enumerate(ELEMENTS)},
        boxes=boxes,
    )


def rationale(brief: Brief, encoded: EncodedBrief, style: str, palette: Palette, pair: FontPair) -> str:
    locale = brief.locale.value
    cues = [label("tone", t, locale) for t in brief.tone]
    cues += [f"“{c}”" for c in encoded.cues[:3]] if locale == "en" else []
    if locale == "zh":
        from knowledge.lexicon import normalize_keywords

        cues += [f"“{e.zh}”" for e in normalize_keywords(brief.keywords)[1][:3]]
    if brief.brand_colors:
        cues.append(("brand colour " if locale == "en" else "品牌色") + ", ".join(brief.brand_colors))
    if encoded.reference_colors:
        cues.append("reference image" if locale == "en" else "参考图")
    category = label("product_category", brief.product_category, locale)
    harmony = label("harmony", palette.harmony, locale)
    style_label = label("style", style, locale)
    if locale == "zh":
        cue_text = "、".join(cues) if cues else category
        return (f"{style_label}方向：{harmony}配色，{pair.heading_family}标题配{pair.body_family}正文，"
                f"依据{category}品类与{cue_text}。")
    cue_text = ", ".join(cues) if cues else f"the {category.lower()} category"
    return (f"{style_label} direction with a {harmony.lower()} palette and {pair.heading_family} over "
            f"{pair.body_family}, driven by {cue_text}.")


def assemble_schemes(brief: Brief, encoded: EncodedBrief, outputs: dict[str, np.ndarray]) -> list[Scheme]:
    """One brief's row of model outputs -> its schemes."""
    palettes = load_palettes()
    pairs = load_font_pairs()
    fonts = load_fonts()
    locale = brief.locale.value
    n = brief.num_schemes
    chosen_palettes = select_palettes(outputs["palette_ids"], outputs["palette_scores"], n)
    style_probs = outputs["style_probs"].astype(np.float64)
    styles = assign_styles(style_probs, [i for i, _ in chosen_palettes])
    chosen_fonts = select_fonts(outputs["font_ids"], outputs["font_scores"], styles, brief.locale == Locale.zh)
    top_styles = np.argsort(-style_probs)[:5]
    style_scores = [StyleScore(id=STYLES[s], label=label("style", STYLES[s], locale), score=float(style_probs[s]))
                    for s in top_styles]

    schemes = []
    for rank, ((p_index, p_rel), s_index, (f_index, f_rel)) in enumerate(zip(chosen_palettes, styles, chosen_fonts)):
        source = palettes[p_index]
        colors = [{"hex": c.hex, "role": c.role, "name": c.name} for c in source.colors]
        colors = honour_brand_colors(colors, list(brief.brand_colors))
        colors, contrast = fix_contrast(colors)
        palette = Palette(
            id=source.id,
            colors=[PaletteColor(**c) for c in colors],
            harmony=source.harmony,
            text_contrast=round(contrast, 2),
        )
        pair = pairs[f_index]
        style = STYLES[s_index]
        typography = Typography(
            pair_id=pair.id,
            heading=FontChoice(family=pair.heading_family, category=fonts[pair.heading_family].category,
                               weight=pair.heading_weight),
            body=FontChoice(family=pair.body_family, category=fonts[pair.body_family].category,
                            weight=pair.body_weight),
        )
        layout = build_layout(outputs["layout"], brief.package_format.value, style, blend=0.0 if rank == 0 else 0.5)
        score = 0.5 * p_rel + 0.3 * float(style_probs[s_index]) / float(style_probs.max()) + 0.2 * f_rel
        schemes.append(
            Scheme(
                style=StyleScore(id=style, label=label("style", style, locale), score=float(style_probs[s_index])),
                style_scores=style_scores,
                palette=palette,
                typography=typography,
                layout=layout,
                score=round(score, 4),
                rationale=rationale(brief, encoded, style, palette, pair),
            )
        )
    return schemes


def split_batch(outputs: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    batch = len(next(iter(outputs.values())))
    return [{k: v[i] for k, v in outputs.items()} for i in range(batch)]



def schemes_batch(briefs: list[Brief], encoded: EncodedBatch, outputs: dict[str, np.ndarray]) -> list[list[dict] | None]:
    """A batch of model outputs -> each brief's schemes as contract-shaped dicts (None for a rejected brief).

    `layout.heatmaps` stays a (4, rows, cols) float array: `pipeline.answer` encodes it for the wire.
    """
    out: list[list[dict] | None] = []
    for i, brief in enumerate(briefs):
        if i in encoded.rejected:
            out.append(None)
            continue
        schemes = []
        for scheme in assemble_schemes(brief, encoded.row(i), {k: v[i] for k, v in outputs.items()}):
            as_dict = scheme.model_dump(mode="json")
            heatmaps = as_dict["layout"]["heatmaps"]
            as_dict["layout"]["heatmaps"] = np.array([heatmaps[e] for e in ELEMENTS], dtype=np.float32)
            del as_dict["layout"]["heatmap_encoding"]
            schemes.append(as_dict)
        out.append(schemes)
    return out
