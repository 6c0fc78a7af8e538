"""benchmarks/gpu_kit.sh, the GPU machine's kit installer, run for real with bash in a temporary folder: split files are
joined only when every part was stashed, and a missing first part stops the call before anything starts (run 20 lost
a measuring call's app sweeps to a refused stash)."""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_kit.sh"


def _kit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KIT=str(tmp_path / "kit"), SITE=str(tmp_path / "site"))
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def _run(tmp_path: Path, folder: str) -> subprocess.CompletedProcess:
    return _kit(tmp_path, "run", folder, "--", "echo ran")


def test_a_later_part_without_its_first_stops_the_call(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "minilm-model.safetensors.part-01").write_bytes(b"second half")
    done = _run(tmp_path, "half")
    assert done.returncode == 3
    assert "part-01 without its part-00" in done.stderr
    assert "ran" not in done.stdout
    assert not (tmp_path / "kit" / "minilm").exists()


def test_parts_stashed_in_two_calls_are_joined_in_order(tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "minilm-model.safetensors.part-00").write_bytes(b"first half, ")
    stash = _kit(tmp_path, "stash", "first")
    assert stash.returncode == 0, stash.stderr
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "minilm-model.safetensors.part-01").write_bytes(b"second half")
    done = _run(tmp_path, "second")
    # Joined and moved where PACKDESIGN_MINILM_DIR will point; it then stops at the missing wheels, before the command.
    assert (tmp_path / "kit" / "minilm" / "model.safetensors").read_bytes() == b"first half, second half"
    assert done.returncode == 3 and "no ray wheel" in done.stderr
    assert "ran" not in done.stdout
