"""The release log: appended entries keep the file valid TOML, a bad file is never touched,
and the Markdown table holds whatever the values contain, with no secret in either."""

from __future__ import annotations

import os
import stat
import threading
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppcockpit.release_log import (
    ManualCheck,
    Override,
    ReleaseEntry,
    ReleaseLogError,
    Rollback,
    RollbackAction,
    append_release_log,
    markdown,
    read_release_log,
    toml,
    utc_timestamp,
)
from ppcockpit.release_markdown import COLUMNS
from ppcockpit.secrets import Redactor, fingerprint

SECRET = "vercel_PLANTED_token_0123456789"
redact = Redactor([SECRET])


def entry(**changes: object) -> ReleaseEntry:
    values: dict[str, object] = {
        "when": "2026-12-01T14:03:22Z", "environment": "production",
        "sha": "0123456789abcdef0123456789abcdef01234567", "tag": "v2026.12.01",
        "deployment_url": "https://pp-abc123.vercel.app", "operators": ("alice", "bob"),
        "migrations_applied": ("20261201_add_quotes",),
        "links_reviewed": (("Grafana", "https://grafana.example.com/d/pp?orgId=1"),),
        "manual_checks": (ManualCheck("On-call engineer aware", "alice",
                                      "2026-12-01T13:40:00Z"),),
        "overrides": (Override("Staging soaked 24 h", "hotfix, soaked 2 h", "bob"),),
        "session": "2026-12-01-production-1", "verdict": "go",
    }
    values.update(changes)
    return ReleaseEntry(**values)  # type: ignore[arg-type]


def cells(line: str) -> list[str]:
    """A Markdown table row split as GFM splits it: at every `|` not escaped."""
    found, current, i = [], "", 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            current += line[i:i + 2]
            i += 2
            continue
        if line[i] == "|":
            found.append(current)
            current = ""
        else:
            current += line[i]
        i += 1
    found.append(current)
    return [cell.strip() for cell in found[1:-1]]


# --- the TOML file ------------------------------------------------------------------------

def test_append_twice_gives_a_valid_file_with_both_entries(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "releases.toml"
    first, second = entry(), entry(tag="v2026.12.01.1", verdict="no-go", rollback=None)
    append_release_log(log, first, redact=redact)
    append_release_log(log, second, redact=redact)
    parsed = tomllib.loads(log.read_text())
    assert [r["tag"] for r in parsed["releases"]] == ["v2026.12.01", "v2026.12.01.1"]
    assert read_release_log(log) == parsed["releases"]
    assert [ReleaseEntry.from_toml(r) for r in read_release_log(log)] == [first, second]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert sorted(p.name for p in log.parent.iterdir()) == ["releases.toml"]  # no temp left


def test_what_was_in_the_file_is_kept_byte_for_byte(tmp_path: Path) -> None:
    log = tmp_path / "releases.toml"
    before = b"# Pocket Philosopher releases\n[meta]\nteam = \"pp\"   # kept\n\n" \
             b"[[releases]]\nwhen = \"2026-11-30T09:00:00Z\"\nenvironment = \"production\""
    log.write_bytes(before)  # no newline at the end
    append_release_log(log, entry(), redact=redact)
    assert log.read_bytes().startswith(before + b"\n")
    assert [r["when"] for r in read_release_log(log)] == ["2026-11-30T09:00:00Z",
                                                          "2026-12-01T14:03:22Z"]


def test_a_rollback_entry(tmp_path: Path) -> None:
    log = tmp_path / "releases.toml"
    rolled = entry(verdict="rolled back", rollback=Rollback(
        trigger="5xx ratio 12% after deploy", operator="alice", at="2026-12-01T14:20:00Z",
        actions=(RollbackAction("vercel promote dpl_prev", "ok"),
                 RollbackAction("supabase migration down", "skipped: none applied"))))
    append_release_log(log, rolled, redact=redact)
    (written,) = read_release_log(log)
    assert written["rollback"] == {
        "trigger": "5xx ratio 12% after deploy", "operator": "alice",
        "at": "2026-12-01T14:20:00Z",
        "actions": [{"action": "vercel promote dpl_prev", "result": "ok"},
                    {"action": "supabase migration down", "result": "skipped: none applied"}]}
    assert ReleaseEntry.from_toml(written) == rolled
    row = cells(markdown(rolled, redact).splitlines()[2])
    assert row[COLUMNS.index("Rollback")] == (
        "5xx ratio 12% after deploy (by alice): vercel promote dpl\\_prev → ok; "
        "supabase migration down → skipped: none applied")
    assert row[COLUMNS.index("Verdict")] == "rolled back"


@pytest.mark.parametrize("content", [
    b"releases = [[[ not toml",
    b"[[releases]]\nwhen = 2026-12-01T14:03:22Z\nwhen = \"twice\"\n",
    b"releases = 1\n",
    b"releases = [{ when = \"x\", environment = \"y\" }]\n",  # a static array: no appending
    b"\xff\xfe[[releases]]\n",
])
def test_a_bad_file_is_never_destroyed(tmp_path: Path, content: bytes) -> None:
    log = tmp_path / "releases.toml"
    log.write_bytes(content)
    with pytest.raises(ReleaseLogError) as caught:
        append_release_log(log, entry(), redact=redact)
    message = str(caught.value)
    assert str(log) in message and "left as it" in message
    assert log.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["releases.toml"]


def test_reading_a_missing_or_bad_log(tmp_path: Path) -> None:
    assert read_release_log(tmp_path / "none.toml") == []
    (tmp_path / "bad.toml").write_text("[[releases]\n")
    with pytest.raises(ReleaseLogError, match="is not valid TOML"):
        read_release_log(tmp_path / "bad.toml")


def test_a_symlinked_log_keeps_its_link(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "releases.toml"
    link = tmp_path / "releases.toml"
    link.symlink_to(real)
    append_release_log(link, entry(), redact=redact)
    append_release_log(link, entry(), redact=redact)
    assert link.is_symlink() and len(read_release_log(real)) == 2


def test_an_entry_time_that_is_not_iso_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseLogError, match="ISO-8601"):
        append_release_log(tmp_path / "r.toml", entry(when="yesterday"), redact=redact)
    assert not (tmp_path / "r.toml").exists()
    assert utc_timestamp().endswith("Z") and len(utc_timestamp()) == 20


def test_writers_at_the_same_time_lose_nothing(tmp_path: Path) -> None:
    log = tmp_path / "releases.toml"

    def write(name: str) -> None:
        for n in range(8):
            append_release_log(log, entry(session=f"{name}-{n}"), redact=redact)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["session"] for r in read_release_log(log)) == sorted(
        f"{name}-{n}" for name in "abc" for n in range(8))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_directory_it_cannot_write_leaves_the_log_as_it_was(tmp_path: Path) -> None:
    log = tmp_path / "releases.toml"
    append_release_log(log, entry(), redact=redact)
    before = log.read_bytes()
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ReleaseLogError, match="left as it was"):
            append_release_log(log, entry(), redact=redact)
    finally:
        tmp_path.chmod(0o700)
    assert log.read_bytes() == before


def test_from_toml_names_the_wrong_key() -> None:
    with pytest.raises(ReleaseLogError, match=r"releases\.manual_checks\[0\]\.by should be a"):
        ReleaseEntry.from_toml({"when": "x", "environment": "p",
                                "manual_checks": [{"title": "t", "by": 3}]})


# --- secrets and outside text -------------------------------------------------------------

def test_secrets_are_in_neither_the_file_nor_the_table(tmp_path: Path) -> None:
    leaky = entry(
        deployment_url=f"https://pp.vercel.app/?token={SECRET}",
        links_reviewed=(("Grafana", "https://admin:hunter2-PLANTED@grafana.example.com/d"),),
        overrides=(Override("Smoke tests", f"CI down, token {SECRET} expired", "bob"),),
        operators=("alice\x1b]0;pwned\x07",))
    log = tmp_path / "releases.toml"
    append_release_log(log, leaky, redact=redact)
    for text in (log.read_text(), markdown(leaky, redact), toml(leaky, redact)):
        assert SECRET not in text and "hunter2" not in text
        assert fingerprint(SECRET) in text
        assert "\x1b" not in text and "\\u001b" not in text and "pwned" not in text


def test_markdown_table_survives_pipes_newlines_and_markup() -> None:
    hostile = entry(
        environment="prod|uction",
        operators=("alice\nbob", "<script>alert(1)</script>", "@channel"),
        migrations_applied=("`rm -rf /`|*bold*|_it_",),
        links_reviewed=(("[click](javascript:alert(1))", "javascript:alert(1)"),
                        ("Logs | prod", "https://logs.example.com/q?a=1|2&b=(x)<y>")),
        manual_checks=(ManualCheck("Smoke\r\ntests ~~done~~", "carol"),),
        overrides=(Override("Gate", "a\\|b", "dave"),), tag=None)
    table = markdown(hostile, redact)
    lines = table.splitlines()
    assert len(lines) == 3 and table.endswith("\n")
    assert all(len(cells(line)) == len(COLUMNS) for line in lines)
    row = dict(zip(COLUMNS, cells(lines[2]), strict=True))
    assert row["Environment"] == "prod\\|uction"
    assert row["Operators"] == "alice bob, \\<script\\>alert(1)\\</script\\>, \\@channel"
    assert row["Migrations"] == "\\`rm -rf /\\`\\|\\*bold\\*\\|\\_it\\_"
    assert row["Reviewed"] == (
        "\\[click\\](javascript:alert(1)): javascript:alert(1); "
        "[Logs \\| prod](https://logs.example.com/q?a=1%7C2&b=%28x%29%3Cy%3E)")
    assert row["Manual checks"] == "Smoke tests \\~\\~done\\~\\~ (carol)"
    assert row["Overrides"] == "Gate: a\\\\\\|b (dave)"
    assert row["Tag"] == "—"


def test_markdown_of_an_ordinary_entry() -> None:
    lines = markdown(entry(), redact).splitlines()
    assert lines[0].startswith("| Date/time (UTC) | Environment | SHA | Tag | Deployment |")
    row = dict(zip(COLUMNS, cells(lines[2]), strict=True))
    assert row["Deployment"] == "[https://pp-abc123.vercel.app](https://pp-abc123.vercel.app)"
    assert row["Operators"] == "alice, bob"
    assert row["Manual checks"] == "On-call engineer aware (alice)"
    assert row["Overrides"] == "Staging soaked 24 h: hotfix, soaked 2 h (bob)"
    assert row["Rollback"] == "—"


TEXT = st.text(max_size=30)


@settings(max_examples=200)
@given(TEXT, st.lists(TEXT, max_size=3), st.lists(st.tuples(TEXT, TEXT), max_size=3), TEXT)
def test_any_values_keep_the_table_one_row_of_its_columns(
        environment: str, operators: list[str], links: list[tuple[str, str]],
        reason: str) -> None:
    table = markdown(entry(environment=environment, operators=operators,
                           links_reviewed=links, migrations_applied=operators,
                           overrides=(Override(reason, reason, reason),),
                           rollback=Rollback(reason, reason,
                                             (RollbackAction(reason, reason),))), redact)
    lines = table.splitlines()
    assert len(lines) == 3
    assert all(len(cells(line)) == len(COLUMNS) for line in lines)
    assert SECRET not in table
