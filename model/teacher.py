"""The knowledge-based teacher: scores (brief, style), (brief, palette), (brief, font pair) and the layout.

The network is trained to reproduce these scores from the brief alone: the text MiniLM reads and the structured
features, which hold the same lexicon tone cues and colour cues as the teacher reads here (in both languages,
`knowledge.lexicon.cue_entries`; the style cues it learns from the words), so the teacher is the definition of a
good answer. Its rules are
documented in docs/teacher.md; the weights here are the ones that doc lists.

All functions work on batches of torch tensors so targets are computed on the fly during training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from knowledge.lexicon import LexiconEntry
from knowledge.taxonomy import Style, Tone
from model.design_tensors import DesignTensors
from pipeline.feature_layout import feature_slice
from model.net import color_match

# Tone mix: what the client chose counts most; lexicon cues, category and audience priors less.
W_TONE_EXPLICIT, W_TONE_CUE, W_TONE_CATEGORY, W_TONE_AUDIENCE = 1.0, 0.4, 0.25, 0.15
# Style logits.
W_STYLE_TONE, W_STYLE_CATEGORY, W_STYLE_AUDIENCE, W_STYLE_CUE, W_STYLE_SEMANTIC = 1.0, 0.6, 0.4, 0.8, 1.0
STYLE_TEMPERATURE = 0.35
# Palette score terms.
W_PAL_TONE, W_PAL_STYLE, W_PAL_SEMANTIC, W_PAL_BRAND, W_PAL_REFERENCE, W_PAL_HARMONY = 6.0, 1.0, 0.5, 2.5, 1.5, 0.25
# The keyword-semantics terms (MiniLM cosine of the brief's text with style descriptions and palette colour names)
# were 6.0 (styles) and 5.0 (palettes) until 2026-12-04: at that strength a rewording that names nothing new (a
# Chinese brief's glossed English against its English original) reordered the top palettes and styles, and the
# teacher's own zh/en parity on the development pairs was 0.367. At 1.0 / 0.5, chosen on those pairs
# (evaluation/parity/dev_pairs.json; docs/model.md "A paraphrase-stable teacher"), it is 0.750 while the fit to
# the brief on 300 calibration-split briefs moved 0.839 -> 0.834 (en): the rule terms, tones, cues, brand and
# reference colours carry the brief, the text only orders near-ties. SEMANTIC_BEFORE keeps the old strengths so the
# evaluation reports NDCG against that teacher too.
SEMANTIC_BEFORE = {"style": 6.0, "palette": 5.0}
# Share of a palette's tone fit that comes from the tone the library generated it for (the generation moods
# encode more than OKLCH ranges, e.g. guochao's red-gold-jade motifs); the rest is its OKLCH fit.
W_PAL_MOOD = 0.4
PALETTE_TEMPERATURE = 0.2
# Font-pair score terms.
W_FONT_MOOD, W_FONT_CATEGORY, W_FONT_SEMANTIC, W_FONT_ZH, W_FONT_LATIN_IN_ZH = 2.0, 0.8, 6.0, 3.0, 0.6
# The frozen rules (docs/teacher.md "Measurable definitions", issue 15), per rule met: each named tone and colour
# cue a palette meets; each named tone whose type rule a pair meets, and the likely styles' type rules. Strong next
# to the soft terms (one rule is worth the whole soft tone-fit term), so what meets the brief ranks first and the
# soft terms order the palettes and pairs within it.
W_PAL_RULE = 6.0
W_FONT_RULE_TONE, W_FONT_RULE_STYLE = 4.0, 4.0
FONT_TEMPERATURE = 0.2
TEMPLATE_TEMPERATURE = 0.15


@dataclass
class TeacherTargets:
    style_probs: torch.Tensor  # (B, 14)
    palette_scores: torch.Tensor  # (B, N) unnormalised; softmax(score / PALETTE_TEMPERATURE) is the target
    font_scores: torch.Tensor  # (B, M)
    layout: torch.Tensor  # (B, 4, rows, cols) 0-1

    def palette_probs(self, temperature: float = PALETTE_TEMPERATURE) -> torch.Tensor:
        return F.softmax(self.palette_scores / temperature, dim=-1)

    def font_probs(self) -> torch.Tensor:
        return F.softmax(self.font_scores / FONT_TEMPERATURE, dim=-1)


def cue_vectors(entries: list[LexiconEntry]) -> tuple[np.ndarray, np.ndarray]:
    """Tone and style cue multi-hots from the lexicon terms found in a brief's keywords."""
    tones = np.zeros(len(Tone), dtype=np.float32)
    styles = np.zeros(len(Style), dtype=np.float32)
    tone_index = {t.value: i for i, t in enumerate(Tone)}
    style_index = {s.value: i for i, s in enumerate(Style)}
    for entry in entries:
        for t in entry.tones:
            tones[tone_index[t]] = 1.0
        for s in entry.styles:
            styles[style_index[s]] = 1.0
    return tones, styles


class Teacher:
    """`rules=False` is the teacher before issue 15 (no rule terms); `semantic=SEMANTIC_BEFORE` the teacher before
    the keyword-semantics terms were weakened: the evaluation reports NDCG against each."""

    def __init__(self, tensors: DesignTensors, rules: bool = True, semantic: dict[str, float] | None = None) -> None:
        t = {name: torch.from_numpy(np.asarray(value)) for name, value in vars(tensors).items() if name != "knowledge_hash"}
        self.t = t
        self.tag_norm = F.normalize(t["font_mood"], dim=-1)
        self.rules = rules
        semantic = semantic or {}
        self.w_style_semantic = semantic.get("style", W_STYLE_SEMANTIC)
        self.w_palette_semantic = semantic.get("palette", W_PAL_SEMANTIC)

    def _blocks(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            name: features[:, feature_slice(name)]
            for name in ("product_category", "audience", "tone", "package_format", "locale_zh",
                         "has_keywords", "brand_colors", "reference_colors")
        }

    def tone_weights(self, blocks: dict[str, torch.Tensor], tone_cues: torch.Tensor) -> torch.Tensor:
        """Each source is normalised on its own, then mixed, so an explicitly chosen tone keeps the largest
        share however many priors and cues pile up (a sum of raw priors would drown it)."""
        audience = blocks["audience"]
        sources = [
            (W_TONE_EXPLICIT, blocks["tone"]),
            (W_TONE_CUE, tone_cues),
            (W_TONE_CATEGORY, blocks["product_category"] @ self.t["category_tones"]),
            (W_TONE_AUDIENCE, audience @ self.t["audience_tones"]),
        ]
        mixed = torch.zeros_like(blocks["tone"])
        total = torch.zeros_like(blocks["tone"][:, :1])
        for weight, source in sources:
            mass = source.sum(1, keepdim=True)
            present = (mass > 0).to(source.dtype)
            mixed = mixed + weight * source / mass.clamp(min=1e-6)
            total = total + weight * present
        return mixed / total.clamp(min=1e-6)

    def style_probs(self, blocks, tone_w, style_cues, text_emb) -> torch.Tensor:
        audience = blocks["audience"]
        n_aud = audience.sum(1, keepdim=True).clamp(min=1.0)
        semantic = text_emb @ self.t["style_emb"].T
        semantic = (semantic - semantic.mean(1, keepdim=True)) * blocks["has_keywords"]
        logits = (
            W_STYLE_TONE * tone_w @ self.t["tone_styles"]
            + W_STYLE_CATEGORY * blocks["product_category"] @ self.t["category_styles"]
            + W_STYLE_AUDIENCE * (audience @ self.t["audience_styles"]) / n_aud
            + W_STYLE_CUE * style_cues
            + self.w_style_semantic * semantic
        )
        return F.softmax(logits / STYLE_TEMPERATURE, dim=-1)

    def color_match(self, slots: torch.Tensor) -> torch.Tensor:
        return color_match(slots, self.t["palette_lab"], self.t["palette_lab_mask"], compact=True)

    def palette_rule_fit(self, blocks, tone_w, color_cues) -> torch.Tensor:
        """(B, N) how many of the tones the brief chose and the colour cues its keywords name each library palette
        meets (the frozen rules, graded alike). A count, not a share: every named attribute missed costs a whole
        W_PAL_RULE however many the brief names (with a share, missing one of six cost too little to outweigh the
        soft terms). Chosen tones rather than tone_w because the grade asks for exactly those (with priors in, a
        palette meeting the category's prior tones would score nearly as well); a brief naming neither: its tone
        weights (priors, summing to 1) stand in."""
        chosen = blocks["tone"]
        named = chosen.sum(1, keepdim=True) + color_cues.sum(1, keepdim=True)
        met = chosen @ self.t["tone_palette_pass"] + color_cues @ self.t["cue_palette_pass"]
        return torch.where(named > 0, met, tone_w @ self.t["tone_palette_pass"])

    def font_rule_fit(self, blocks, tone_w, style_p) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M) how many of the chosen tones' type rules each pair meets (else the tone weights' share), and the
        likely styles' type rules (style_p-weighted); a pair meeting a rule only below the first scheme counts
        half."""
        chosen = blocks["tone"]
        named = chosen.sum(1, keepdim=True)
        tones = torch.where(named > 0, chosen @ self.t["tone_pair_pass"], tone_w @ self.t["tone_pair_pass"])
        return tones, style_p @ self.t["style_pair_pass"]

    def palette_scores(self, blocks, tone_w, style_p, text_emb, color_cues) -> torch.Tensor:
        semantic = text_emb @ self.t["palette_name_emb"].T
        semantic = (semantic - semantic.mean(1, keepdim=True)) * blocks["has_keywords"]
        rule = W_PAL_RULE * self.palette_rule_fit(blocks, tone_w, color_cues) if self.rules else 0.0
        return rule + (
            W_PAL_TONE * tone_w @ ((1 - W_PAL_MOOD) * self.t["tone_palette_fit"] + W_PAL_MOOD * self.t["palette_mood"])
            + W_PAL_STYLE * style_p @ self.t["style_palette_fit"]
            + self.w_palette_semantic * semantic
            + W_PAL_BRAND * self.color_match(blocks["brand_colors"])
            + W_PAL_REFERENCE * self.color_match(blocks["reference_colors"])
            + W_PAL_HARMONY * self.t["palette_harmony_z"]
        )

    def font_scores(self, blocks, tone_w, style_p, text_emb) -> torch.Tensor:
        audience = blocks["audience"]
        n_aud = audience.sum(1, keepdim=True).clamp(min=1.0)
        wanted = (
            tone_w @ self.t["tone_font_tags"]
            + style_p @ self.t["style_font_tags"]
            + 0.5 * (audience @ self.t["audience_font_tags"]) / n_aud
        )
        mood = F.normalize(wanted, dim=-1) @ self.tag_norm.T
        category = (style_p @ self.t["style_font_cats"]) @ self.t["font_heading_cat"].T
        semantic = text_emb @ self.t["font_text_emb"].T
        semantic = (semantic - semantic.mean(1, keepdim=True)) * blocks["has_keywords"]
        zh = blocks["locale_zh"]
        font_zh = self.t["font_zh"][None, :]
        # zh answers need CJK-capable pairs; en answers prefer Latin-first pairs but may use CJK ones.
        script = W_FONT_ZH * (zh * (2.0 * font_zh - 1.0)) - W_FONT_LATIN_IN_ZH * (1.0 - zh) * font_zh
        score = W_FONT_MOOD * mood + W_FONT_CATEGORY * category + W_FONT_SEMANTIC * semantic + script
        if self.rules:
            tones, styles = self.font_rule_fit(blocks, tone_w, style_p)
            score = score + W_FONT_RULE_TONE * tones + W_FONT_RULE_STYLE * styles
        return score

    def layout(self, blocks, style_p) -> torch.Tensor:
        fmt = blocks["package_format"].argmax(1)  # (B,)
        same_format = fmt[:, None] == self.t["template_format"][None, :]  # (B, L)
        affinity = style_p @ self.t["template_styles"].T
        affinity = affinity.masked_fill(~same_format, float("-inf"))
        weights = F.softmax(affinity / TEMPLATE_TEMPERATURE, dim=-1)
        return torch.einsum("bl,lerc->berc", weights, self.t["template_heatmaps"])

    @torch.no_grad()
    def __call__(
        self, features: torch.Tensor, text_emb: torch.Tensor, tone_cues: torch.Tensor, style_cues: torch.Tensor,
        color_cues: torch.Tensor,
    ) -> TeacherTargets:
        """`color_cues`: (B, K) the frozen colour cues the raw keywords name (`BriefArrays.color_cues`)."""
        blocks = self._blocks(features)
        tone_w = self.tone_weights(blocks, tone_cues)
        style_p = self.style_probs(blocks, tone_w, style_cues, text_emb)
        return TeacherTargets(
            style_probs=style_p,
            palette_scores=self.palette_scores(blocks, tone_w, style_p, text_emb, color_cues),
            font_scores=self.font_scores(blocks, tone_w, style_p, text_emb),
            layout=self.layout(blocks, style_p),
        )
