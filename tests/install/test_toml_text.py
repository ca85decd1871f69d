"""The values ``tillgw init`` writes by hand read back as TOML as they were given."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.install.toml_text import Line, toml_value

TEXT = st.text(st.characters(exclude_categories=["Cs"]))  # every character a file can hold


@given(TEXT)
def test_any_text_reads_back_as_written(text: str) -> None:
    assert tomllib.loads(f"k = {toml_value(text)}")["k"] == text


@given(st.lists(TEXT, max_size=5))
def test_any_list_of_lines_reads_back(lines: list[str]) -> None:
    assert tomllib.loads(f"k = {toml_value(lines)}")["k"] == lines


@pytest.mark.parametrize("value", [True, False, 0, 42, 2.5])
def test_numbers_and_truth_read_back(value: bool | int | float) -> None:
    assert tomllib.loads(f"k = {toml_value(value)}")["k"] == value


def test_text_no_file_can_hold_is_named() -> None:
    with pytest.raises(ValueError, match="is not valid text"):
        toml_value("Kaffe\udcc3")


def test_a_line_left_at_its_default_is_shown_commented_out_with_its_comment() -> None:
    assert Line("retries", None, "tries", example=2).render(12) == "# retries = 2  # tries"
    assert tomllib.loads(Line("retries", None, "tries", example=2).render(12)) == {}
    assert Line("name", 'Kafé "Ön"', "the name").render(4) == 'name = "Kafé \\"Ön\\""  # the name'
