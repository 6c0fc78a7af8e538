import numpy as np
import pytest
import torch

from model.text_encoder import MiniLMEncoder
from pipeline.tokenization import MAX_TOKENS, encode_texts, pad_batch, token_ids

TEXTS = ["refreshing summer limited edition", "luxury black and gold gift box", "", "a" * 400]


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder.from_package()


def test_matches_sentence_transformers_reference(encoder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from pipeline.tokenization import minilm_dir

    reference = sentence_transformers.SentenceTransformer(str(minilm_dir()), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    ids, mask = encode_texts(TEXTS)
    with torch.no_grad():
        got = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    assert np.abs(got - expected).max() < 1e-5


def test_batches_pad_to_their_longest_not_to_128():
    ids, mask = encode_texts(["short", "a somewhat longer brief about tea"])
    assert ids.shape[1] == len(token_ids("a somewhat longer brief about tea")) < MAX_TOKENS
    assert mask[0].sum() == len(token_ids("short"))
    assert (ids[0, mask[0] == 0] == 0).all()


def test_padding_does_not_change_an_embedding(encoder):
    alone_ids, alone_mask = encode_texts(["fresh citrus soda"])
    padded_ids, padded_mask = pad_batch([token_ids("fresh citrus soda"), token_ids("x " * 40)])
    with torch.no_grad():
        alone = encoder(torch.from_numpy(alone_ids), torch.from_numpy(alone_mask))[0]
        padded = encoder(torch.from_numpy(padded_ids), torch.from_numpy(padded_mask))[0]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_long_text_is_truncated_and_multiple_padding_rounds_up():
    assert len(token_ids("a " * 400)) == MAX_TOKENS
    ids, _ = pad_batch([[101, 5, 102]], pad_to_multiple=8)
    assert ids.shape == (1, 8)
