"""Brief samples -> the arrays training and evaluation consume (features, MiniLM embeddings, teacher cues).

The teacher's cues are of two kinds: the runtime lexicon's tone/style cues, and the frozen colour cues
(`knowledge.attributes.find_cues`, read from the raw keywords in en and zh alike, as the evaluation reads them).
The tone cues and colour cues are the structured features' own blocks (`pipeline.features`), read from there so
that the teacher and the network see one array; the style cues are no feature (left to the text) and kept here.

MiniLM is frozen, so each distinct brief text is embedded once and cached; the heads then train on the
cached embeddings, which keeps a full training run on a 2-core CPU within minutes.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from knowledge.lexicon import cue_entries
from model.briefs import BriefSample, paraphrase_keywords
from model.design_tensors import CACHE_DIR
from pipeline.feature_layout import feature_slice
from pipeline.features import brief_text, structured_features
from model.teacher import cue_vectors
from model.text_encoder import MiniLMEncoder
from pipeline.tokenization import encode_texts


@dataclass
class BriefArrays:
    features: np.ndarray  # (n, FEATURE_DIM)
    text_emb: np.ndarray  # (n, 384)
    style_cues: np.ndarray  # (n, 14) the lexicon's style cues
    texts: list[str]

    @property
    def tone_cues(self) -> np.ndarray:
        """(n, 18) the lexicon's tone cues: the features' `tone_cues` block (a view)."""
        return self.features[:, feature_slice("tone_cues")]

    @property
    def color_cues(self) -> np.ndarray:
        """(n, K) the frozen colour cues the keywords name: the features' `colour_cues` block (a view), whose order
        is `cue_ids()`'s (tests/model/test_dataset.py)."""
        return self.features[:, feature_slice("colour_cues")]

    def tensors(self, index=slice(None)) -> tuple[torch.Tensor, ...]:
        """(features, text_emb, tone_cues, style_cues, color_cues): the teacher's arguments, in order."""
        # Only the rows asked for are copied (the cue blocks are views into `features`), contiguous as before.
        return tuple(
            torch.from_numpy(np.ascontiguousarray(a[index]))
            for a in (self.features, self.text_emb, self.tone_cues, self.style_cues, self.color_cues)
        )

    def __len__(self) -> int:
        return len(self.features)


def embed_texts(texts: list[str], batch_size: int = 128, progress: bool = True) -> np.ndarray:
    """MiniLM embeddings of distinct texts, cached on disk by the hash of the text list."""
    unique = sorted(set(texts))
    digest = hashlib.sha256("\x1f".join(unique).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"text_emb-{digest}.npy"
    if path.exists():
        table = np.load(path)
    else:
        encoder = MiniLMEncoder.from_package()
        # Sorting by length keeps each padded batch tight (the tokenizer pads to the batch's longest).
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        table = np.zeros((len(unique), 384), dtype=np.float32)
        steps = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(steps, desc="MiniLM embeddings", disable=not progress, unit="batch"):
                rows = order[start : start + batch_size]
                ids, mask = encode_texts([unique[i] for i in rows])
                table[rows] = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.save(path, table)
    index = {t: i for i, t in enumerate(unique)}
    return table[[index[t] for t in texts]]


def brief_arrays(samples: list[BriefSample], normalize_chinese: bool = True, progress: bool = True) -> BriefArrays:
    features, style_cues, texts = [], [], []
    for sample in samples:
        entries = cue_entries(sample.brief.keywords)
        features.append(structured_features(sample.brief, sample.reference_colors, entries))
        texts.append(brief_text(sample.brief.keywords, normalize_chinese)[0])
        # The teacher reads the lexicon cues of both languages, as the features do.
        style_cues.append(cue_vectors(entries)[1])
    return BriefArrays(
        features=np.stack(features),
        text_emb=embed_texts(texts, progress=progress),
        style_cues=np.stack(style_cues),
        texts=texts,
    )


def paraphrase_embeddings(samples: list[BriefSample], copies: int, seed: int = 0, progress: bool = True) -> np.ndarray:
    """(copies, n, 384) MiniLM embeddings of `copies` keyword paraphrases of each sample (`paraphrase_keywords`),
    read through the runtime text path. Training shows the network these in place of the brief's own text while
    the teacher scores the brief as written, so wording that names nothing new cannot move the rankings."""
    rng = random.Random(seed)
    texts = [brief_text(paraphrase_keywords(s, rng))[0] for _ in range(copies) for s in samples]
    return embed_texts(texts, progress=progress).reshape(copies, len(samples), -1)
