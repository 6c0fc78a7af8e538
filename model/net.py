"""The recommendation network: MiniLM text encoder + brief MLP + four heads.

Heads: style scores (14), palette retrieval over the whole library and font-pair retrieval (dot product of
a brief query with precomputed item keys, top-k inside the graph), and a convolutional layout decoder
(Conv + BatchNorm + ReLU blocks) giving one heatmap per layout element.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from knowledge.design_tables import GRID
from pipeline.feature_layout import AB_SCALE, FEATURE_DIM, MAX_COLORS, feature_slice
from model.text_encoder import HIDDEN, MiniLMEncoder

BRIEF_DIM = 256
PALETTE_KEY_DIM = 128
FONT_KEY_DIM = 64
TOP_PALETTES = 32
TOP_FONTS = 16
N_ELEMENTS = 4
BRAND_RADIUS = 0.08
# The palette rule term's starting weight: the teacher's W_PAL_RULE (6.0 a rule met) over the training target's
# temperature (0.05), i.e. what one named tone or colour cue met is worth in the target's logits. Learned from there.
RULE_WEIGHT_INIT = 120.0


def color_match(slots: torch.Tensor, palette_lab: torch.Tensor, palette_mask: torch.Tensor,
                compact: bool = False) -> torch.Tensor:
    """(B, 3*4) colour slots [L, 3a, 3b, present] -> (B, N): how closely each palette contains them, 0-1.

    A slot matches a palette by its nearest palette colour: exp(-(d / BRAND_RADIUS)^2) in OKLab, averaged
    over the present slots. Shared by the teacher and the network. `compact` evaluates only present slots
    (training batches, where most slots are empty); the dense form is what the exported graph uses.
    """
    slots = slots.reshape(-1, MAX_COLORS, 4)
    # Undo the feature vector's a/b scaling; plain arithmetic, no tensor constants created per call
    # (a host->device copy would break CUDA graph capture).
    unscaled = torch.cat([slots[..., :1], slots[..., 1:3] / AB_SCALE], dim=-1)
    present = slots[..., 3]
    n_palettes, n_roles = palette_lab.shape[:2]
    flat_pal = palette_lab.reshape(-1, 3)
    empty_role = ((1.0 - palette_mask) * 100.0).reshape(1, -1)

    def nearest(lab: torch.Tensor) -> torch.Tensor:  # (K, 3) -> (K, N) match
        # Squared distances by expansion: one matmul instead of a (K, N*6, 3) difference tensor.
        d2 = ((lab * lab).sum(-1, keepdim=True) + (flat_pal * flat_pal).sum(-1)[None] - 2.0 * lab @ flat_pal.T)
        d2 = (d2.clamp(min=0.0) + empty_role).reshape(-1, n_palettes, n_roles)
        return torch.exp(-d2.min(-1).values / (BRAND_RADIUS * BRAND_RADIUS))

    count = present.sum(1, keepdim=True).clamp(min=1.0)
    if compact:
        rows, slot = present.nonzero(as_tuple=True)
        out = torch.zeros(slots.shape[0], n_palettes, dtype=slots.dtype, device=slots.device)
        if len(rows):
            out.index_add_(0, rows, nearest(unscaled[rows, slot]))
        return out / count
    match = nearest(unscaled.reshape(-1, 3)).reshape(-1, MAX_COLORS, n_palettes)
    return (match * present[..., None]).sum(1) / count


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class _UpBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class LayoutDecoder(nn.Module):
    """Brief vector -> (4, 16, 12) heatmaps; the package format reaches it through the brief vector."""

    def __init__(self) -> None:
        super().__init__()
        rows, cols = GRID
        self.seed_shape = (64, rows // 4, cols // 4)
        self.project = nn.Linear(BRIEF_DIM, 64 * (rows // 4) * (cols // 4))
        self.blocks = nn.Sequential(
            _UpBlock(64, 48),
            _UpBlock(48, 32),
            nn.Conv2d(32, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, N_ELEMENTS, 1),
        )

    def forward(self, brief: torch.Tensor) -> torch.Tensor:
        x = self.project(brief).view(-1, *self.seed_shape)
        return self.blocks(x)  # logits


class RecommenderHeads(nn.Module):
    """Everything after the text encoder; trained on cached MiniLM embeddings."""

    def __init__(self, palette_features: torch.Tensor, palette_lab: torch.Tensor, palette_lab_mask: torch.Tensor,
                 font_features: torch.Tensor, n_styles: int, palette_rule_pass: torch.Tensor) -> None:
        """`palette_rule_pass`: (tones + colour cues, N) 1 where the palette meets that tone's or cue's frozen rule,
        rows in the order of the features' `tone` then `colour_cues` blocks."""
        super().__init__()
        self.register_buffer("palette_features", palette_features)
        self.register_buffer("palette_rule_pass", palette_rule_pass)
        self.register_buffer("palette_lab", palette_lab)
        self.register_buffer("palette_lab_mask", palette_lab_mask)
        self.register_buffer("font_features", font_features)
        self.brief = nn.Sequential(_mlp([HIDDEN + FEATURE_DIM, 512, BRIEF_DIM]), nn.GELU(), nn.LayerNorm(BRIEF_DIM))
        self.style = nn.Linear(BRIEF_DIM, n_styles)
        self.palette_query = nn.Linear(BRIEF_DIM, PALETTE_KEY_DIM)
        self.palette_tower = _mlp([palette_features.shape[1], 256, PALETTE_KEY_DIM])
        self.font_query = nn.Linear(BRIEF_DIM, FONT_KEY_DIM)
        self.font_tower = _mlp([font_features.shape[1], 128, FONT_KEY_DIM])
        # Colour matching is a fixed geometric feature (distance in OKLab), only its weight is learned.
        self.brand_weight = nn.Parameter(torch.tensor(2.0))
        self.reference_weight = nn.Parameter(torch.tensor(1.0))
        # How many of the tones the brief chose and the colour cues its keywords name a palette meets, counted
        # exactly as the teacher counts them (its strongest term); only the weight is learned.
        self.rule_weight = nn.Parameter(torch.tensor(RULE_WEIGHT_INIT))
        self.layout = LayoutDecoder()

    def palette_keys(self) -> torch.Tensor:
        return self.palette_tower(self.palette_features)

    def font_keys(self) -> torch.Tensor:
        return self.font_tower(self.font_features)

    def color_match(self, slots: torch.Tensor) -> torch.Tensor:
        # No learned parameters inside: skip autograd bookkeeping for the (B, 3, N, 6) distances.
        with torch.no_grad():
            return color_match(slots, self.palette_lab, self.palette_lab_mask, compact=self.training)

    def rules_met(self, features: torch.Tensor) -> torch.Tensor:
        named = torch.cat([features[:, feature_slice("tone")], features[:, feature_slice("colour_cues")]], dim=-1)
        return named @ self.palette_rule_pass

    def forward(self, text_emb: torch.Tensor, features: torch.Tensor,
                palette_keys: torch.Tensor | None = None, font_keys: torch.Tensor | None = None):
        brief = self.brief(torch.cat([text_emb, features], dim=-1))
        style_logits = self.style(brief)
        pk = self.palette_keys() if palette_keys is None else palette_keys
        fk = self.font_keys() if font_keys is None else font_keys
        palette_scores = (
            self.palette_query(brief) @ pk.T
            + self.brand_weight * self.color_match(features[:, feature_slice("brand_colors")])
            + self.reference_weight * self.color_match(features[:, feature_slice("reference_colors")])
            + self.rule_weight * self.rules_met(features)
        )
        font_scores = self.font_query(brief) @ fk.T
        return style_logits, palette_scores, font_scores, self.layout(brief)


class RecommenderModel(nn.Module):
    """The exported graph: token ids + mask + structured features -> styles, top-k palettes/fonts, layout.

    Item keys are computed once and frozen as constants (a retrieval index), so each call costs one
    matmul per head instead of re-running the towers over the whole library.
    """

    def __init__(self, encoder: MiniLMEncoder, heads: RecommenderHeads,
                 top_palettes: int = TOP_PALETTES, top_fonts: int = TOP_FONTS) -> None:
        super().__init__()
        self.encoder = encoder
        self.heads = heads
        with torch.no_grad():
            self.register_buffer("palette_key_table", heads.palette_keys().detach().clone())
            self.register_buffer("font_key_table", heads.font_keys().detach().clone())
        self.top_palettes = min(top_palettes, self.palette_key_table.shape[0])
        self.top_fonts = min(top_fonts, self.font_key_table.shape[0])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, features: torch.Tensor):
        # The encoder may run in lower precision than the heads (torch FP16 backend); retrieval scores over
        # thousands of near-tied palettes keep the features' precision.
        text = self.encoder(input_ids, attention_mask).to(features.dtype)
        style_logits, palette_scores, font_scores, layout_logits = self.heads(
            text, features, self.palette_key_table, self.font_key_table
        )
        palette_top, palette_idx = torch.topk(palette_scores, self.top_palettes, dim=-1)
        font_top, font_idx = torch.topk(font_scores, self.top_fonts, dim=-1)
        return (
            F.softmax(style_logits, dim=-1),
            palette_top,
            palette_idx.to(torch.int32),  # int32: TensorRT-friendly, and N is far below 2**31
            font_top,
            font_idx.to(torch.int32),
            torch.sigmoid(layout_logits),
        )


OUTPUT_NAMES = ["style_probs", "palette_scores", "palette_ids", "font_scores", "font_ids", "layout"]
INPUT_NAMES = ["input_ids", "attention_mask", "features"]
