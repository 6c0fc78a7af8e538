"""Training is deterministic and learns: two short runs give identical weights, and the loss falls."""

import hashlib

import pytest

from model.train import train

pytestmark = pytest.mark.slow


def test_short_training_is_deterministic_and_learns(tmp_path):
    first = train(n_train=512, epochs=2, batch_size=128, progress=False, weights_dir=tmp_path / "a")
    second = train(n_train=512, epochs=2, batch_size=128, progress=False, weights_dir=tmp_path / "b")
    digest = lambda d: hashlib.sha256((d / "heads.safetensors").read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a") == digest(tmp_path / "b") == first["heads_sha256"] == second["heads_sha256"]
    losses = first["history"]
    assert losses[-1]["palette"] < losses[0]["palette"] and losses[-1]["style"] < losses[0]["style"]
