"""The trained heads checkpoint: building the network around the knowledge tables and (de)serialising it.

Kept apart from training so that serving and export need only torch + safetensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from knowledge.taxonomy import Style
from model.design_tensors import DesignTensors
from model.net import RecommenderHeads

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
HEADS_PATH = WEIGHTS_DIR / "heads.safetensors"
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"
# Rebuilt from knowledge/ at load time, so not stored in the checkpoint.
_TABLE_BUFFERS = {"palette_features", "palette_lab", "palette_lab_mask", "font_features", "palette_rule_pass"}


def build_heads(tensors: DesignTensors) -> RecommenderHeads:
    return RecommenderHeads(
        palette_features=torch.from_numpy(tensors.palette_features()),
        palette_lab=torch.from_numpy(tensors.palette_lab.astype(np.float32)),
        palette_lab_mask=torch.from_numpy(tensors.palette_lab_mask.astype(np.float32)),
        font_features=torch.from_numpy(tensors.font_features()),
        n_styles=len(Style),
        palette_rule_pass=torch.from_numpy(
            np.concatenate([tensors.tone_palette_pass, tensors.cue_palette_pass]).astype(np.float32)),
    )


def trainable_state(heads: RecommenderHeads) -> dict[str, torch.Tensor]:
    """Parameters and BatchNorm statistics only."""
    return {k: v.detach().contiguous() for k, v in heads.state_dict().items() if k not in _TABLE_BUFFERS}


def load_heads(tensors: DesignTensors, path: Path = HEADS_PATH) -> RecommenderHeads:
    from safetensors.torch import load_file

    heads = build_heads(tensors)
    missing, unexpected = heads.load_state_dict(load_file(str(path)), strict=False)
    missing = [m for m in missing if m not in _TABLE_BUFFERS]
    if missing or unexpected:
        raise RuntimeError(f"heads checkpoint does not match the network: missing={missing} unexpected={unexpected}")
    return heads.eval()
