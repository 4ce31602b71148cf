"""gcl_nb.workbench.exercises: each check accepts the right answer, rejects a wrong one, and reports an
unattempted exercise without failing the notebook."""

import numpy as np
import pandas as pd
import pytest

from gcl_nb.workbench import exercises as ex


@pytest.fixture(autouse=True)
def fresh_verdicts():
    ex.VERDICTS.clear()


def test_check_close_and_an_unattempted_exercise_gives_nothing_away(capsys):
    ex.check_close("a", [1.0, 0.5], np.array([1.0, 0.5]))
    ex.check_close("b", [1.0, 0.4], np.array([1.0, 0.5]))
    ex.check_close("c", [1.0], np.array([1.0, 0.5]))
    ex.check_close("d", None, 0.3610)
    ex.check_choice("e", None, "down", "the loss at t=20 is 0.0996")
    assert ex.VERDICTS == {"a": True, "b": False, "c": False, "d": None, "e": None}
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("· exercise d: not attempted yet: put your prediction in place of None")
    assert not any(secret in line for line in out[-2:] for secret in ("0.361", "down", "0.0996"))


def test_check_choice_compares_collections_as_sets():
    ex.check_choice("a", [("x", "y"), ("z", "w")], [("z", "w"), ("x", "y")], "")
    ex.check_choice("b", [("x", "y")], [("z", "w"), ("x", "y")], "")
    ex.check_choice("c", "down", "down", "")
    ex.check_choice("d", "up", "down", "")
    assert ex.VERDICTS == {"a": True, "b": False, "c": True, "d": False}


def test_check_stw():
    ex.check_stw("ok", lambda s: (s / 100) ** 4)
    ex.check_stw("linear", lambda s: s)
    ex.check_stw("falling", lambda s: 101 - s)
    ex.check_stw("negative", lambda s: s - 50)
    assert ex.VERDICTS == {"ok": True, "linear": False, "falling": False, "negative": False}


def test_check_result_and_check_below(capsys):
    results = pd.DataFrame({"method": ["a", "a", "b"], "split": ["x", "x", "x"], "err": [0.5, 0.7, 0.4]})
    ex.check_result("r1", results, "a", "b", "err", "x", "")
    ex.check_result("r2", results, "a", "b", "err", "x", "", higher=False)
    ex.check_result("r3", results, "c", "b", "err", "x", "c above b")
    ex.check_below("b1", 0.3, 0.4, "err", "")
    ex.check_below("b2", 0.5, 0.4, "err", "")
    ex.check_below("b3", None, 0.4, "err", "")
    assert ex.VERDICTS == {"r1": True, "r2": False, "r3": None, "b1": True, "b2": False, "b3": None}
    assert all(type(verdict) in (bool, type(None)) for verdict in ex.VERDICTS.values()), "plain bools: `is True` works"
    assert "add 'c' to `methods`" in capsys.readouterr().out
