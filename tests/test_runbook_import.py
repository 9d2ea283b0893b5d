"""`ppcockpit runbook import`: real runbook shapes become runbooks that load; any Markdown
either imports or is said to hold nothing; every bad file is one clear line, exit 2."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcockpit.markdown_blocks import looks_like_command
from ppcockpit.markdown_runbook import NothingToImport, slugify
from ppcockpit.runbook import SLUG, Runbook, StepKind, load_runbook
from ppcockpit.runbook_import import import_markdown, main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "runbooks"


def imported(name: str, tmp_path: Path) -> Runbook:
    """The fixture imported, written as TOML and loaded by the real loader."""
    data = import_markdown((FIXTURES / name).read_text(), name)
    path = tmp_path / "runbook.toml"
    path.write_text(tomli_w.dumps(data))
    return load_runbook(path)


def steps(runbook: Runbook, phase: str) -> list[tuple[str, str, str | None]]:
    found = next(p for p in runbook.phases if p.id == phase)
    return [(s.id, s.kind.value, s.run) for s in found.steps]


def test_the_teams_runbook(tmp_path: Path) -> None:
    runbook = imported("production-runbook.md", tmp_path)
    assert runbook.title == "Production Deployment Runbook"
    assert [(p.id, p.title) for p in runbook.phases] == [
        ("pre-flight-checklist", "Pre-Flight Checklist"),
        ("secure-credentials-configuration", "Secure Credentials & Configuration"),
        ("deploy-application-artifacts", "Deploy Application Artifacts"),
        ("post-deployment-verification", "Post-Deployment Verification"),
        ("observability-hooks", "Observability Hooks"),
        ("rollback-procedure", "Rollback Procedure"),
        ("post-deploy-follow-up", "Post-Deploy Follow-Up"),
    ]
    soak = runbook.step("pre-flight-checklist/release-candidate-has-soaked-in-staging")
    assert soak.title == "Release candidate has soaked in staging for at least 24 hours."
    assert soak.kind is StepKind.MANUAL  # the task box is gone from the title
    # The pipelines item names four commands: one command step each, the item as their help.
    lint = runbook.step("pre-flight-checklist/run-npm-run-lint")
    assert (lint.kind, lint.run) == (StepKind.COMMAND, "npm run lint")
    assert lint.help.startswith("All automated pipelines")
    # Nested items are the step's help.
    secrets = runbook.step("secure-credentials-configuration/"
                           "confirm-the-following-are-up-to-date")
    assert secrets.help.splitlines()[0] == "- NEXT_PUBLIC_SUPABASE_URL"
    assert "- Redis connection URL and credentials" in secrets.help
    verification = steps(runbook, "post-deployment-verification")
    assert ("run-npm-run-test-tests-health-endpoint", "command",
            "npm run test -- __tests__/health-endpoint.test.ts") in verification
    assert ("run-npm-run-test-tests-retrieval-test-ts", "command",
            "npm run test -- __tests__/retrieval.test.ts") in verification
    # A command with an ENV=value prefix, inside a nested item, is a step of its own.
    playwright = runbook.step("post-deployment-verification/execute-playwright-base-url-https-app")
    assert playwright.run == ("PLAYWRIGHT_BASE_URL=https://app.pocketphilosopher.com npx "
                              "playwright test e2e/specs/pwa-offline.spec.ts")
    assert len(playwright.title) <= 120 and "sanity-check the service worker" in playwright.help
    # A command with a <placeholder> is for a human to fill in: never a command step.
    flush = runbook.step("rollback-procedure/flush-redis-caches-if-stale-persona-data")
    assert flush.kind is StepKind.MANUAL and flush.run is None
    assert "/api/health" in runbook.step(
        "post-deployment-verification/query-api-health-and-ensure-all").title


def test_a_gitlab_style_checklist_with_nested_numbered_lists(tmp_path: Path) -> None:
    runbook = imported("gitlab-deploy-checklist.md", tmp_path)
    assert runbook.title == "Deploy checklist: web release"
    assert [p.id for p in runbook.phases] == [
        "preparation", "deploy-to-staging", "deploy-to-production", "deploy-to-production-2",
        "post-deploy"]
    assert steps(runbook, "preparation") == [
        ("create-the-release-issue-and-link-it", "manual", None),
        ("check-that-the-last-pipeline-on-main", "manual", None),
        ("if-it-failed-re-run-the-failed-jobs-glab", "command", "glab ci retry"),
        ("freeze-merges", "manual", None),
        ("run-make-freeze-main", "command", "make freeze-main"),
    ]
    freeze = runbook.step("preparation/freeze-merges")
    assert freeze.help == ("1. Announce the freeze in #dev\n2. Run make freeze-main\n"
                           "3. Confirm the protected branch settings")
    assert steps(runbook, "deploy-to-production")[:3] == [
        ("tag-the-release-git-tag-s-v1-42-0-m", "command",
         'git tag -s v1.42.0 -m "Release v1.42.0"'),
        ("push-it-git-push-origin-v1-42-0", "command", "git push origin v1.42.0"),
        ("deploy-scripts-deploy-sh-production", "command", "./scripts/deploy.sh production"),
    ]
    watch = runbook.step("deploy-to-production/watch-error-rates-for-30-minutes")
    assert watch.help == "- Sentry: new issues\n- Grafana: 5xx ratio under 1%"


def test_a_runbook_of_headings_and_paragraphs_only(tmp_path: Path) -> None:
    runbook = imported("headings-and-paragraphs.md", tmp_path)
    assert runbook.title == "Incident-safe release process"  # a setext title
    assert steps(runbook, "before-the-release") == [
        ("read-and-confirm", "manual", None), ("talk-to-support", "manual", None),
        ("check-the-calendar", "manual", None)]
    assert runbook.step("before-the-release/read-and-confirm").help.startswith(
        "Read the changelog")
    assert runbook.step("during-the-release/read-and-confirm").help == (
        "Watch the dashboards. If the error rate doubles, stop and roll back.")
    # An empty section still has its one step (phases need one), under a unique id.
    assert steps(runbook, "after-the-release-2") == [("read-and-confirm", "manual", None)]


def test_fenced_shell_blocks_of_several_commands(tmp_path: Path) -> None:
    runbook = imported("fenced-bash.md", tmp_path)
    backup = runbook.step("back-up/take-a-backup-first")
    # A continued line is one command; the line the importer did not take (ls) stays in
    # the help, with the block, so that nothing of it is lost.
    assert backup.run == 'pg_dump --format=custom --file=backup.dump "$DATABASE_URL"'
    assert "ls -lh backup.dump" in backup.help
    migrate = steps(runbook, "migrate")
    assert [run for _, _, run in migrate] == [
        "npx prisma migrate deploy", "npm run db:seed -- --only=reference-data",
        'psql "$DATABASE_URL" -c "select count(*) from _prisma_migrations"']
    assert "export NODE_ENV=production" in runbook.step(
        "migrate/run-npx-prisma-migrate-deploy").help
    # Console output, JSON and SQL blocks are never commands.
    check = runbook.step("migrate/then-check-the-output")
    assert "SELECT * FROM users" in check.help and "count" not in (check.help.split()[:1])
    assert [run for _, _, run in steps(runbook, "verify")] == [
        "curl -fsS https://api.example.com/health", "curl -fsS https://api.example.com/version",
        "CI=1 pnpm test:e2e", "./bin/restart-workers --graceful"]
    assert runbook.step("verify/restart-the-workers").kind is StepKind.COMMAND


def test_html_comments_details_and_tables(tmp_path: Path) -> None:
    runbook = imported("html-comments-tables.md", tmp_path)
    assert runbook.title == "Cache cluster failover"
    # Nothing inside an HTML comment becomes a phase or a step.
    assert [p.id for p in runbook.phases] == ["contacts", "checks", "fail-over"]
    contacts = runbook.step("contacts/read-and-confirm")
    assert "Primary · Ana · +1 555 0100" in contacts.help
    assert steps(runbook, "checks") == [
        ("memory", "command", "redis-cli -h cache-1 info memory"),
        ("replication", "command", "redis-cli -h cache-1 info replication")]
    assert "never run redis-cli FLUSHALL" in runbook.step("checks/replication").help
    assert steps(runbook, "fail-over") == [
        ("promote-the-replica-redis-cli-h-cache-2", "command",
         "redis-cli -h cache-2 replicaof no one"),
        ("point-the-app-at-cache-2-ctrl-r", "command", "fly secrets set REDIS_HOST=cache-2"),
        ("confirm-the-error-rate-is-back-to-normal", "manual", None)]
    assert "<kbd>" not in runbook.step("fail-over/point-the-app-at-cache-2-ctrl-r").title


def test_a_flat_checklist_without_headings_is_one_phase(tmp_path: Path) -> None:
    data = import_markdown("- [ ] one\n- [x] two `make check`\n", "release_checklist.md")
    assert data["title"] == "release checklist"
    assert [p["title"] for p in data["phases"]] == ["Checklist"]
    assert [s["kind"] for s in data["phases"][0]["steps"]] == ["manual", "command"]


def test_a_title_cut_short_keeps_its_whole_text_in_the_help() -> None:
    text = "Rebuild the search index " + "carefully " * 20 + "with `make reindex` at the end"
    for markdown in (f"## P\n{text}\n", f"## P\n- {text}\n"):
        step = import_markdown(markdown, "x.md")["phases"][0]["steps"][0]
        assert (step["kind"], step["run"]) == ("command", "make reindex")
        assert len(step["title"]) <= 120 and step["title"].endswith("…")
        assert step["help"] == text.replace("`", "")


def test_control_sequences_never_reach_a_title() -> None:
    data = import_markdown("# \x1b]0;owned\x07Title\n## Phase \x1b[31mred\n- step \x9b2J\n",
                           "x.md")
    text = all_text(data)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert data["phases"][0]["title"] == "Phase red"


@pytest.mark.parametrize("markdown", ["0```bash\r\x1b```", "## P\n`make \x1b[2Jx`\n",
                                      "## P\n```bash\nmake x\x07\n```\n"])
def test_a_command_holding_a_control_character_is_text_not_a_command(markdown: str) -> None:
    data = import_markdown(markdown, "x.md")
    steps = [step for phase in data["phases"] for step in phase["steps"]]
    assert [step["kind"] for step in steps] == ["manual"]
    assert not [c for c in all_text(data) if c in "\x1b\x07\r"]


def all_text(data: object) -> str:
    """Every key and string of the runbook data, joined (repr would escape what we look for)."""
    if isinstance(data, dict):
        return "".join(str(key) + all_text(value) for key, value in data.items())
    if isinstance(data, list):
        return "".join(all_text(item) for item in data)
    return str(data)


@pytest.mark.parametrize("text", ["", "   \n\n", "<!-- only a comment -->\n", "***\n",
                                  "# Just a title\n"])
def test_nothing_to_import_is_said_clearly(text: str) -> None:
    with pytest.raises(NothingToImport, match=r"^empty\.md: nothing to import"):
        import_markdown(text, "empty.md")


@pytest.mark.parametrize(("code", "command"), [
    ("npm run test", "npm run test"), ("$ git push origin v1", "git push origin v1"),
    ("./scripts/deploy.sh prod", "./scripts/deploy.sh prod"),
    ("A=1 B='x y' node build.js", "A=1 B='x y' node build.js"),
    ("/usr/local/bin/deploy --now", "/usr/local/bin/deploy --now"),
    ("redis-cli -u <redis-url> FLUSHALL", None), ("/api/health", None), (".env", None),
    ("NEXT_PUBLIC_SUPABASE_URL", None), ("A=1", None), ("i_chat_completed", None),
    ("npm run a\nnpm run b", None), ("./", None), ("", None),
])
def test_what_looks_like_a_command(code: str, command: str | None) -> None:
    assert looks_like_command(code) == command


def test_slugs_are_valid_unique_and_stable() -> None:
    assert slugify("On-call engineer is aware of the deployment window.", "x") == (
        "on-call-engineer-is-aware")
    assert slugify("Ünïcödé — “quotes”", "x") == "unicode-quotes"
    assert slugify("!!!", "step-3") == "step-3"
    assert slugify("a" * 100, "x") == "a" * 40
    text = "## Same\n- same\n- Same!\n- same\n## Same\n- x\n"
    first = import_markdown(text, "x.md")
    assert first == import_markdown(text, "x.md")
    assert [p["id"] for p in first["phases"]] == ["same", "same-2"]
    assert [s["id"] for s in first["phases"][0]["steps"]] == ["same", "same-2", "same-3"]


def test_many_steps_with_one_title_import_in_linear_time() -> None:
    data = import_markdown("## P\n" + "- [ ] check\n" * 5000, "x.md")
    ids = [s["id"] for s in data["phases"][0]["steps"]]
    assert len(set(ids)) == 5000 and ids[-1] == "check-5000"


# --- the command ------------------------------------------------------------------------------

def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_main_prints_toml_that_loads(tmp_path: Path) -> None:
    code, out, err = run_main(str(FIXTURES / "production-runbook.md"))
    assert code == 0 and err == ""
    assert out.startswith("# Imported by `ppcockpit runbook import` from "
                          "production-runbook.md: 7 phases")
    path = tmp_path / "runbook.toml"
    path.write_text(out)
    assert len(load_runbook(path).phases) == 7


def test_main_writes_the_output_file_and_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "runbook.toml"
    code, out, err = run_main(str(FIXTURES / "fenced-bash.md"), "-o", str(target))
    assert (code, out) == (0, "")
    assert "3 phases, 8 steps (8 commands)" in err
    assert load_runbook(target).title == "Database migration runbook"
    target.write_text("# hand-edited\n")
    code, _, err = run_main(str(FIXTURES / "fenced-bash.md"), "-o", str(target))
    assert code == 2 and "already exists; add --force to replace it" in err
    assert target.read_text() == "# hand-edited\n"
    assert run_main(str(FIXTURES / "fenced-bash.md"), "-o", str(target), "--force")[0] == 0
    assert load_runbook(target).title == "Database migration runbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runbook.toml"]  # no temp left


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes(b"# Titre\n\n- caf\xe9\n")
    empty = tmp_path / "empty.md"
    empty.write_text("<!-- nothing -->\n")
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"- x\n" * 300_000)
    fifo = tmp_path / "fifo.md"
    os.mkfifo(fifo)
    good = str(FIXTURES / "fenced-bash.md")
    return {
        "missing": ([str(tmp_path / "nope.md")], "nope.md: no such Markdown file"),
        "directory": ([str(tmp_path)], "is a directory, not a Markdown file"),
        "not utf-8": ([str(latin1)], "latin1.md:3: the Markdown file is not UTF-8 text "
                                     "(byte 0xe9)"),
        "nothing": ([str(empty)], "empty.md: nothing to import"),
        "too large": ([str(huge)], "the Markdown file is larger than 1 MiB"),
        "a fifo": ([str(fifo)], "is not a regular file"),
        "output dir missing": ([good, "-o", str(tmp_path / "no" / "dir.toml")],
                               "cannot write: No such file or directory"),
        "output is a dir": ([good, "-o", str(tmp_path), "--force"], "is not a regular file"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "not utf-8", "nothing", "too large",
                                  "a fifo", "output dir missing", "output is a dir"])
def test_every_bad_input_is_one_clear_line_and_exit_2(tmp_path: Path, case: str) -> None:
    argv, expected = _bad_inputs(tmp_path)[case]
    code, out, err = run_main(*argv)
    assert code == 2 and out == ""
    assert err.startswith("ppcockpit runbook import: ") and err.count("\n") == 1, err
    assert expected in err


def test_usage_mistakes_and_help() -> None:
    assert run_main()[0] == 2
    assert run_main("--bogus", "x.md")[0] == 2
    assert run_main("--help")[0] == 0  # argparse's own exit, turned into a return


def test_a_real_process_says_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe\x00")
    done = subprocess.run([sys.executable, "-m", "ppcockpit.runbook_import", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "not UTF-8" in done.stderr


# --- properties -------------------------------------------------------------------------------

_PIECES = st.sampled_from([
    "# ", "## ", "### ", "- ", "- [ ] ", "- [x] ", "1. ", "2) ", "   ", "    ", "\n", "\n\n",
    "```", "```bash\n", "```console\n$ ", "`", "npm run x", "FOO=1 ", "./x.sh", "<!-- ", " -->",
    "| a | b |\n|---|---|\n| `make x` | y |\n", "> ", "text ", "\x1b[31m", "===\n", "---\n",
    "<redis-url>", "\t", "**", "[l](u)", "\\\n", "$ ", "\x00", "é", "*", "<details>", "\r\n",
])
markdown = st.text(max_size=200) | st.lists(_PIECES | st.text(max_size=6), max_size=40).map(
    "".join)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=markdown)
def test_any_markdown_imports_as_a_valid_runbook_or_says_there_is_nothing(tmp_path_factory,
                                                                         text: str) -> None:
    try:
        data = import_markdown(text, "fuzz.md")
    except NothingToImport as exc:
        assert str(exc).startswith("fuzz.md: nothing to import")
        return
    path = tmp_path_factory.mktemp("import") / "runbook.toml"
    path.write_text(tomli_w.dumps(data, multiline_strings=True))
    runbook = load_runbook(path)
    keys = [f"{phase.id}/{step.id}" for phase in runbook.phases for step in phase.steps]
    assert all(re.match(SLUG, part) for key in keys for part in key.split("/"))


def test_the_new_core_modules_load_nothing_heavy_at_import() -> None:
    from tests.test_import_hygiene import modules_after

    loaded = modules_after("import ppcockpit.journal, ppcockpit.runbook_import")
    heavy = ("textual", "markdown_it", "platformdirs", "screens")
    assert not [name for name in loaded if name.split(".")[0] in heavy]
