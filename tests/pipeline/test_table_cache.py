"""Post-processing's fixed tables kept on disk between processes (`pipeline.table_cache`)."""

import dataclasses
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pipeline import postprocess, taste
from pipeline.table_cache import ROOT, load_or_build, source_key


def assert_same(a, b, where="tables"):
    """Deep equality of built tables: dataclasses field by field, arrays by dtype, shape and value."""
    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where  # insertion order too: the request path iterates some of these
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    else:
        assert not isinstance(a, (set, frozenset)), f"{where}: a set's order may differ between processes"
        assert a == b, where


BUILDERS = {"postprocess-tables": "postprocess._build_tables",
            "postprocess-fit-tables": "postprocess._build_fit_tables",
            "taste-features": "taste._build_feature_tables"}


@pytest.mark.parametrize("name", BUILDERS)
def test_another_process_loads_what_a_fresh_build_gives(tmp_path, name):
    module, builder = BUILDERS[name].split(".")
    built = load_or_build(name, getattr({"postprocess": postprocess, "taste": taste}[module], builder),
                          cache_dir=tmp_path, key="k")
    assert (tmp_path / f"{name}-k.pkl").exists()
    # A fresh interpreter (its own string-hash seed) builds the tables itself and compares them with the file.
    code = (f"import pickle, sys; sys.path.insert(0, {str(ROOT)!r})\n"
            f"sys.path.insert(0, {str(ROOT / 'tests' / 'pipeline')!r})\n"
            f"from test_table_cache import assert_same\nfrom pipeline import postprocess, taste\n"
            f"assert_same({BUILDERS[name]}(), pickle.load(open({str(tmp_path / f'{name}-k.pkl')!r}, 'rb')))\n"
            "print('same')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "same", result.stderr[-2000:]

    def must_not_build():
        raise AssertionError("built again although the file was there")

    assert_same(built, load_or_build(name, must_not_build, cache_dir=tmp_path, key="k"))


def test_an_edit_to_any_source_changes_the_key(tmp_path):
    tree = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge" / "data", tree / "data")
    (tree / "fit.py").write_text("RULE = 1\n")
    key = source_key([tree])
    assert source_key([tree]) == key
    (tree / "fit.py").write_text("RULE = 2\n")
    assert source_key([tree]) != key
    (tree / "fit.py").write_text("RULE = 1\n")
    data = next(p for p in sorted((tree / "data").rglob("*")) if p.is_file())
    data.write_bytes(data.read_bytes() + b" ")
    assert source_key([tree]) != key


def test_a_file_from_an_older_build_is_replaced(tmp_path):
    load_or_build("t", lambda: [1], cache_dir=tmp_path, key="old")
    assert load_or_build("t", lambda: [2], cache_dir=tmp_path, key="new") == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-new.pkl"]


def test_an_unreadable_file_is_built_again(tmp_path):
    (tmp_path / "t-k.pkl").write_bytes(b"\x80\x05 truncated")
    assert load_or_build("t", lambda: {"a": 1}, cache_dir=tmp_path, key="k") == {"a": 1}
    assert pickle.loads((tmp_path / "t-k.pkl").read_bytes()) == {"a": 1}


def test_a_cache_that_cannot_be_written_still_answers(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert load_or_build("t", lambda: (3,), cache_dir=blocked / "cache", key="k") == (3,)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
