"""Placeholders in command lines: values always one shell word, mistakes named clearly."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.command_template import StepCommandError, fill_placeholders, placeholders_in

VALUES = {"deployment_url": "https://pp-abc.vercel.app", "sha": "0123abc"}


def test_bare_placeholders_are_filled_and_quoted() -> None:
    filled = fill_placeholders("curl -fsS {deployment_url}/api/health --sha={sha}", VALUES)
    assert filled == "curl -fsS https://pp-abc.vercel.app/api/health --sha=0123abc"
    assert fill_placeholders("echo {sha}", {"sha": "a b;c"}) == "echo 'a b;c'"


def test_shell_braces_are_left_to_the_shell() -> None:
    run = ("echo ${HOME} ${X:-{y}} && find . -exec ls {} + | awk '{print $1}' "
           "# {nope} in a comment\necho {{sha}} }} {sha}")
    assert fill_placeholders(run, VALUES) == (
        "echo ${HOME} ${X:-{y}} && find . -exec ls {} + | awk '{print $1}' "
        "# {nope} in a comment\necho {sha} } 0123abc")


def test_unknown_placeholder_names_it_and_suggests_the_close_one() -> None:
    with pytest.raises(StepCommandError) as caught:
        fill_placeholders("echo {deploy_url}", VALUES)
    message = str(caught.value)
    assert "{deploy_url}" in message
    assert "did you mean {deployment_url}?" in message
    assert "{{" in message  # says how to write a literal brace
    assert "pp-abc" not in message  # names, never values


@pytest.mark.parametrize(("run", "quotes"), [
    ("echo '{sha}'", "single"), ('echo "{sha}"', "double"), ('echo "x $(echo {sha})"', "double"),
])
def test_placeholder_inside_quotes_is_refused(run: str, quotes: str) -> None:
    with pytest.raises(StepCommandError, match=f"inside {quotes} quotes"):
        fill_placeholders(run, VALUES)
    with pytest.raises(StepCommandError):
        placeholders_in(run)


def test_quotes_are_followed_past_escapes_and_closed_quotes() -> None:
    assert fill_placeholders("echo 'a''b' \\' \"q\\\"\" {sha}", VALUES) == \
        "echo 'a''b' \\' \"q\\\"\" 0123abc"


def test_placeholders_in_lists_names_in_order_of_first_use() -> None:
    assert placeholders_in("a {sha} {deployment_url} {sha} {{x}} ${Y}") == [
        "sha", "deployment_url"]


def test_nul_in_a_value_is_refused() -> None:
    with pytest.raises(StepCommandError, match="NUL"):
        fill_placeholders("echo {sha}", {"sha": "a\x00b"})


TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=40)


@settings(max_examples=300)
@given(TEXT)
def test_any_value_stays_one_word(value: str) -> None:
    assert shlex.split(fill_placeholders("echo --v={v} {v}", {"v": value})) == [
        "echo", f"--v={value}", value]


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_command_line_is_filled_or_refused_clearly(run: str) -> None:
    try:
        fill_placeholders(run, VALUES)
        placeholders_in(run)
    except StepCommandError:
        pass


@pytest.mark.parametrize("value", [
    "x; touch pwned", "$(touch pwned)", "`touch pwned`", "a'b\"c", "line1\nline2", "-n", "",
    "* ?", "\\", "ünïcødé",
])
def test_real_shell_prints_the_value_exactly(value: str, tmp_path) -> None:
    script = fill_placeholders("printf %s {v}", {"v": value})
    out = subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, capture_output=True,
                         check=True, timeout=10)
    assert out.stdout.decode() == value
    assert not (tmp_path / "pwned").exists()
