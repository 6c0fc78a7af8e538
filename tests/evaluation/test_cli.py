"""python -m evaluation's counts: 0 skips a part rather than grading nan or a default number of briefs."""

from __future__ import annotations

import sys

import pytest

from evaluation import __main__ as cli


def test_no_tone_briefs_skips_the_tone_checks():
    assert cli.tone_metrics(None, 0) == {}


@pytest.mark.parametrize("argv", [["--fit-only", "--fit-briefs", "0"], ["--teacher", "new", "--fit-briefs", "0"]])
def test_fit_tables_alone_with_no_fit_briefs_is_refused(argv, monkeypatch, capsys):
    def evaluate_fit(*args, **kwargs):
        raise AssertionError("graded briefs --fit-briefs 0 skips")

    monkeypatch.setattr(cli, "evaluate_fit", evaluate_fit)
    monkeypatch.setattr(cli, "load_design_tensors", lambda: None)
    monkeypatch.setattr(cli, "Teacher", lambda *args, **kwargs: None)
    monkeypatch.setattr(sys, "argv", ["evaluation", *argv])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2 and "--fit-briefs 0" in capsys.readouterr().err
