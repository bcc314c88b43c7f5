"""The one number parser (ui/numbers.py) as each place that reads numbers uses it: the Train tab's
quick-run boxes, /train's settings and a share link's query; and ui/outputs.py's answers by name."""

from __future__ import annotations

import gradio as gr
import pytest

from cnn.errors import ConfigError
from ui import api, design_share, outputs
from ui.numbers import parse_number


@pytest.mark.parametrize(
    "value, whole, want",
    [(None, False, None), ("  ", True, None), (" 1,000 ", True, 1000), ("1_000", True, 1000), (2.0, True, 2)]
    + [("0.5", False, 0.5), (3, False, 3.0)],
)
def test_numbers_as_people_type_them(value, whole, want):
    got = parse_number(value, whole)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    "value, whole", [("2.5", True), ("lots", False), ("inf", False), ("1e999", False), ("1,5", False)]
)
def test_what_is_not_a_number_is_refused(value, whole):
    with pytest.raises(ValueError):
        parse_number(value, whole)


def test_each_reader_says_what_was_wrong_in_its_own_words():
    with pytest.raises(ConfigError, match=r"batch_size must be a whole number \(got '2.5'\)"):
        api._number("2.5", "batch_size", whole=True)
    with pytest.raises(ConfigError, match=r"lr must be a finite number \(got 'nan'\)"):
        api._number("nan", "lr")
    link = design_share.read_link({"epochs": "1,5", "batch": "64.5", "train": "1,000", "lr": "0.01"})
    assert link.train_n == 1000 and link.lr == 0.01 and link.epochs is None and link.batch is None
    assert link.problems == (
        "epochs='1,5' is not a number above 0 and at most 1000",
        "batch='64.5' is not a whole number above 0 and at most 65536",
    )


def test_answers_by_name_skip_what_they_do_not_name_and_refuse_a_name_that_is_no_output():
    names = ("a", "b", "c")
    answer = outputs.values(names, "test", c=3, a=1)
    assert outputs.named(names, answer) == {"a": 1, "b": gr.skip(), "c": 3}
    with pytest.raises(TypeError, match="not a test output: d"):
        outputs.values(names, "test", d=4)
