"""The knowledge base as dense arrays: what the teacher scores against and what the network retrieves.

Built once from `knowledge/` (plus MiniLM embeddings of palette colour names, font-pair descriptions and
style descriptions) and cached under artifacts/cache keyed by a hash of the knowledge files, so training,
evaluation and export all see the very same tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from knowledge.fit_tables import pair_passes, palette_passes
from knowledge.fonts import expressive_tag_names, load_font_pairs, load_fonts
from knowledge.labels import profile
from knowledge.layouts import load_layout_templates, render_heatmaps
from knowledge.palettes import load_palettes, palette_attribute_matrix
from knowledge.design_tables import GRID, oklch_fit, palette_role_lab
from knowledge.taxonomy import Audience, LayoutElement, PackageFormat, PaletteRole, ProductCategory, Style, Tone

FONT_CATEGORIES = ["sans-serif", "serif", "display", "handwriting", "monospace"]
KNOWLEDGE_DATA = Path(__file__).resolve().parent.parent / "knowledge" / "data"
CACHE_VERSION = 3  # bump when the way tensors are derived changes (the knowledge hash covers the data)
CACHE_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "cache"


@dataclass
class DesignTensors:
    # palettes (N)
    palette_attrs: np.ndarray  # (N, A) measured attributes, standardised
    palette_lab: np.ndarray  # (N, 6, 3) OKLab per role in knowledge.design_tables.ROLE_ORDER (zeros where absent)
    palette_lab_mask: np.ndarray  # (N, 6)
    palette_name_emb: np.ndarray  # (N, 384) mean MiniLM embedding of the colour names, normalised
    palette_harmony_z: np.ndarray  # (N,) Ou-Luo harmony, z-scored over the library
    tone_palette_fit: np.ndarray  # (18, N) 0-1 fit of each palette's colours to each tone's OKLCH profile
    palette_mood: np.ndarray  # (18, N) 1 where the library generated the palette for that tone
    style_palette_fit: np.ndarray  # (14, N)
    # the frozen rules (docs/teacher.md "Measurable definitions", knowledge.fit_tables), 1 where met
    tone_palette_pass: np.ndarray  # (18, N) the palette, as it stands, meets the tone's palette rule
    cue_palette_pass: np.ndarray  # (K, N) meets the colour cue's rule, cues in knowledge.attributes order
    # font pairs (M)
    font_mood: np.ndarray  # (M, T) expressive-tag profile
    font_heading_cat: np.ndarray  # (M, 5)
    font_body_cat: np.ndarray  # (M, 5)
    font_zh: np.ndarray  # (M,)
    font_text_emb: np.ndarray  # (M, 384)
    # 1 where the pair meets the type rule as an answer's first scheme, 0.5 where only as a later one (a /Script/*
    # heading under a 'secondary' policy), 0 otherwise
    tone_pair_pass: np.ndarray  # (18, M)
    style_pair_pass: np.ndarray  # (14, M)
    # styles and priors
    style_emb: np.ndarray  # (14, 384) embedding of each style's English description
    tone_styles: np.ndarray  # (18, 14)
    tone_font_tags: np.ndarray  # (18, T)
    style_font_tags: np.ndarray  # (14, T)
    style_font_cats: np.ndarray  # (14, 5)
    category_styles: np.ndarray  # (18, 14)
    category_tones: np.ndarray  # (18, 18)
    audience_styles: np.ndarray  # (11, 14)
    audience_tones: np.ndarray  # (11, 18)
    audience_font_tags: np.ndarray  # (11, T)
    # layout templates (L)
    template_heatmaps: np.ndarray  # (L, 4, rows, cols)
    template_format: np.ndarray  # (L,) index into PackageFormat
    template_styles: np.ndarray  # (L, 14)
    knowledge_hash: str = ""

    def palette_features(self) -> np.ndarray:
        """Per-palette input of the network's palette tower."""
        lab = (self.palette_lab * np.array([1.0, 3.0, 3.0])).reshape(len(self.palette_lab), -1)
        # The rule bits are the knowledge base's own facts about each palette; with them the tower need not
        # rediscover hard OKLCH thresholds from the colours to rank what meets a tone or cue.
        return np.concatenate([self.palette_attrs, lab, self.palette_lab_mask, self.palette_name_emb,
                               self.tone_palette_pass.T, self.cue_palette_pass.T], 1).astype(np.float32)

    def font_features(self) -> np.ndarray:
        return np.concatenate(
            [self.font_mood, self.font_heading_cat, self.font_body_cat, self.font_zh[:, None], self.font_text_emb,
             self.tone_pair_pass.T, self.style_pair_pass.T], 1
        ).astype(np.float32)


def cue_ids() -> list[str]:
    """The colour cues in the order of `DesignTensors.cue_palette_pass` rows and of a brief's cue multi-hot."""
    return palette_passes().cue_ids


def knowledge_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(KNOWLEDGE_DATA.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(KNOWLEDGE_DATA).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _profile_matrix(vocab: str, ids: list[str], key: str, axis: list[str]) -> np.ndarray:
    index = {name: j for j, name in enumerate(axis)}
    out = np.zeros((len(ids), len(axis)), dtype=np.float32)
    for i, id_ in enumerate(ids):
        for name, weight in (profile(vocab, id_).get(key) or {}).items():
            if name in index:
                out[i, index[name]] = weight
    return out


def _embed(texts: list[str]) -> np.ndarray:
    import torch

    from model.text_encoder import MiniLMEncoder
    from pipeline.tokenization import encode_texts

    encoder = MiniLMEncoder.from_package()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), 256):
            ids, mask = encode_texts(texts[start : start + 256])
            out.append(encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy())
    return np.concatenate(out).astype(np.float32)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def build_design_tensors() -> DesignTensors:
    palettes = load_palettes()
    tags = expressive_tag_names()
    tones, styles = [t.value for t in Tone], [s.value for s in Style]
    categories, audiences = [c.value for c in ProductCategory], [a.value for a in Audience]

    lab, mask = palette_role_lab()
    attrs = palette_attribute_matrix().astype(np.float32)
    attrs = (attrs - attrs.mean(0)) / np.maximum(attrs.std(0), 1e-6)
    harmony = np.array([p.harmony_score for p in palettes], dtype=np.float32)

    # Embed each distinct colour name once; a palette's text is the mean of its names.
    names = sorted({c.name for p in palettes for c in p.colors})
    name_index = {name: i for i, name in enumerate(names)}
    name_emb = _embed(names)
    palette_name_emb = np.stack(
        [name_emb[[name_index[c.name] for c in p.colors if c.role != PaletteRole.text]].mean(0) for p in palettes]
    )

    fonts = load_fonts()
    pairs = load_font_pairs()
    tag_index = {t: j for j, t in enumerate(tags)}
    font_mood = np.zeros((len(pairs), len(tags)), dtype=np.float32)
    head_cat = np.zeros((len(pairs), len(FONT_CATEGORIES)), dtype=np.float32)
    body_cat = np.zeros_like(head_cat)
    for i, pair in enumerate(pairs):
        for tag, w in pair.mood.items():
            if tag in tag_index:
                font_mood[i, tag_index[tag]] = w
        head_cat[i, FONT_CATEGORIES.index(fonts[pair.heading_family].category)] = 1.0
        body_cat[i, FONT_CATEGORIES.index(fonts[pair.body_family].category)] = 1.0
    font_text = [
        f"{' '.join(t.lower() for t, w in sorted(p.mood.items(), key=lambda kv: -kv[1])[:4])} "
        f"{fonts[p.heading_family].category} typography"
        for p in pairs
    ]

    style_text = [profile("style", s)["description_en"] for s in styles]
    tone_fit = np.stack([oklch_fit(lab, mask, profile("tone", t)) for t in tones])
    moods = np.array([p.mood or "" for p in palettes])
    palette_mood = np.stack([(moods == t).astype(np.float32) for t in tones])
    style_fit = np.stack([oklch_fit(lab, mask, profile("style", s)) for s in styles])

    passes, pair_rules = palette_passes(), pair_passes()
    pair_fit = (0.5 * (pair_rules.first.astype(np.float32) + pair_rules.later.astype(np.float32))).T  # (32, M)

    templates = load_layout_templates()
    elements = [e.value for e in LayoutElement]
    heatmaps = np.zeros((len(templates), len(elements), *GRID), dtype=np.float32)
    for i, template in enumerate(templates):
        rendered = render_heatmaps(template, grid=GRID)
        for j, element in enumerate(elements):
            heatmaps[i, j] = rendered[element]
    formats = [f.value for f in PackageFormat]
    template_styles = np.zeros((len(templates), len(styles)), dtype=np.float32)
    for i, template in enumerate(templates):
        for style, w in template.styles.items():
            template_styles[i, styles.index(style)] = w

    return DesignTensors(
        palette_attrs=attrs,
        palette_lab=lab,
        palette_lab_mask=mask,
        palette_name_emb=_normalise_rows(palette_name_emb).astype(np.float32),
        palette_harmony_z=(harmony - harmony.mean()) / max(float(harmony.std()), 1e-6),
        tone_palette_fit=tone_fit,
        palette_mood=palette_mood,
        style_palette_fit=style_fit,
        tone_palette_pass=passes.tone.T.astype(np.float32),
        cue_palette_pass=passes.cue.T.astype(np.float32),
        font_mood=font_mood,
        font_heading_cat=head_cat,
        font_body_cat=body_cat,
        font_zh=np.array([float(p.zh) for p in pairs], dtype=np.float32),
        font_text_emb=_embed(font_text),
        tone_pair_pass=pair_fit[: len(tones)],
        style_pair_pass=pair_fit[len(tones) :],
        style_emb=_embed(style_text),
        tone_styles=_profile_matrix("tone", tones, "styles", styles),
        tone_font_tags=_profile_matrix("tone", tones, "font_tags", tags),
        style_font_tags=_profile_matrix("style", styles, "font_tags", tags),
        style_font_cats=_profile_matrix("style", styles, "font_categories", FONT_CATEGORIES),
        category_styles=_profile_matrix("product_category", categories, "styles", styles),
        category_tones=_profile_matrix("product_category", categories, "tones", tones),
        audience_styles=_profile_matrix("audience", audiences, "styles", styles),
        audience_tones=_profile_matrix("audience", audiences, "tones", tones),
        audience_font_tags=_profile_matrix("audience", audiences, "font_tags", tags),
        template_heatmaps=heatmaps,
        template_format=np.array([formats.index(t.format) for t in templates], dtype=np.int64),
        template_styles=template_styles,
        knowledge_hash=knowledge_hash(),
    )


def load_design_tensors() -> DesignTensors:
    """Cached build; rebuilt whenever any knowledge data file changes."""
    digest = knowledge_hash()
    path = CACHE_DIR / f"design_tensors-v{CACHE_VERSION}-{digest}.npz"
    if path.exists():
        with np.load(path) as data:
            arrays = {f.name: data[f.name] for f in fields(DesignTensors) if f.name != "knowledge_hash"}
        return DesignTensors(**arrays, knowledge_hash=digest)
    tensors = build_design_tensors()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(tensors, f.name) for f in fields(DesignTensors) if f.name != "knowledge_hash"}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return tensors


