"""The tag step against real git repositories: proposals, annotated tags, pushes to a bare
remote, and every refusal (taken tag, bad ref, not a repo, no git, rejected push, a remote
that asks for a password or never answers)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web

from ppcockpit.release_tag import (
    ReleaseTagError,
    create_tag,
    next_free,
    propose_tag,
    tag_base,
)
from tests.support.http_stub import serve_handler

TODAY = date(2026, 12, 1)
BASE = "v2026.12.01"


@pytest.fixture(autouse=True)
def _git_of_our_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer git config, identity or credential helper reaches these tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_DIR",
                 "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


def make_repo(path: Path, commits: int = 2) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "On Call")
    git(path, "config", "user.email", "oncall@example.com")
    for n in range(commits):
        git(path, "commit", "-q", "--allow-empty", "-m", f"commit {n}")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "app")


@pytest.fixture
def bare(tmp_path: Path, repo: Path) -> Path:
    """A bare repository as `origin`."""
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote


async def make_tag(repo: Path, tag: str = BASE, ref: str = "HEAD", *, push: bool = False,
                   remote: str = "origin", limit: float = 20.0):
    return await create_tag(repo, tag, ref, message=f"release {tag}", push=push,
                            remote=remote, timeout=limit)


# --- proposing ------------------------------------------------------------------------------

def test_next_free_counts_past_the_highest_suffix() -> None:
    assert tag_base(TODAY) == BASE
    assert next_free(BASE, set()) == BASE
    assert next_free(BASE, {BASE}) == f"{BASE}.1"
    assert next_free(BASE, {BASE, f"{BASE}.1", f"{BASE}.3"}) == f"{BASE}.4"
    decoys = {"v2026.12.011", f"{BASE}-rc1", f"{BASE}.x", "v2026.11.30.7", f"{BASE}.1.2"}
    assert next_free(BASE, decoys) == BASE


async def test_proposes_todays_tag_when_free(repo: Path) -> None:
    git(repo, "tag", "v2026.11.30")
    assert await propose_tag(repo, TODAY, remote=None) == BASE


async def test_proposes_the_next_suffix_when_taken_locally(repo: Path) -> None:
    for tag in (BASE, f"{BASE}.1", f"{BASE}.3", "v2026.12.011"):
        git(repo, "tag", tag)
    assert await propose_tag(repo, TODAY) == f"{BASE}.4"  # no origin: skipped


async def test_remote_tags_count_too(repo: Path, bare: Path) -> None:
    git(repo, "tag", BASE)
    git(repo, "tag", f"{BASE}.1")
    git(repo, "push", "-q", "origin", "--tags")
    git(repo, "tag", "-d", BASE, f"{BASE}.1")
    assert await propose_tag(repo, TODAY) == f"{BASE}.2"


async def test_an_unreachable_remote_is_skipped(repo: Path, tmp_path: Path) -> None:
    git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    git(repo, "tag", BASE)
    assert await propose_tag(repo, TODAY) == f"{BASE}.1"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/app.git"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_silent_remote_does_not_hold_the_proposal(repo: Path,
                                                          silent_server: str) -> None:
    git(repo, "remote", "add", "origin", silent_server)
    began = time.monotonic()
    assert await propose_tag(repo, TODAY, remote_timeout=0.5) == BASE
    assert time.monotonic() - began < 10


# --- creating -------------------------------------------------------------------------------

async def test_creates_an_annotated_tag_at_the_ref(repo: Path) -> None:
    wanted = git(repo, "rev-parse", "HEAD~1")
    result = await make_tag(repo, ref="HEAD~1")
    assert result.tag == BASE and result.sha == wanted and result.ref == "HEAD~1"
    assert not result.pushed and result.remote is None
    assert result.summary == f"created {BASE} at {wanted[:12]} (HEAD~1)"
    assert git(repo, "cat-file", "-t", BASE) == "tag"  # annotated, not lightweight
    assert git(repo, "rev-parse", f"{BASE}^{{commit}}") == wanted
    assert git(repo, "tag", "-l", "--format=%(contents:subject)", BASE) == f"release {BASE}"


async def test_a_tag_that_exists_is_never_overwritten(repo: Path) -> None:
    git(repo, "tag", "-a", "-m", "earlier", BASE, "HEAD~1")
    before = git(repo, "rev-parse", BASE)
    with pytest.raises(ReleaseTagError, match=f"tag {BASE} already exists"):
        await make_tag(repo)
    assert git(repo, "rev-parse", BASE) == before


async def test_a_tag_created_after_the_proposal_is_refused(repo: Path) -> None:
    proposed = await propose_tag(repo, TODAY, remote=None)
    git(repo, "tag", proposed, "HEAD~1")  # someone else, meanwhile
    with pytest.raises(ReleaseTagError, match=r"already exists.*not overwritten"):
        await make_tag(repo, proposed)
    assert git(repo, "rev-parse", f"{proposed}^{{commit}}") == git(repo, "rev-parse", "HEAD~1")


async def test_a_bad_ref_is_named(repo: Path) -> None:
    with pytest.raises(ReleaseTagError, match="no commit named 'release-candidate'"):
        await make_tag(repo, ref="release-candidate")
    assert git(repo, "tag", "-l") == ""


@pytest.mark.parametrize("tag", ["-f", "bad name", "v1..2", "v1\x1b[31m", "v1~1", ""])
async def test_an_invalid_tag_name_is_refused(repo: Path, tag: str) -> None:
    with pytest.raises(ReleaseTagError) as caught:
        await make_tag(repo, tag)
    assert "\x1b" not in str(caught.value)
    assert git(repo, "tag", "-l") == ""


async def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ReleaseTagError, match="is not a git repository"):
        await propose_tag(tmp_path / "plain", TODAY)
    with pytest.raises(ReleaseTagError, match="does not exist"):
        await make_tag(tmp_path / "missing")


async def test_a_directory_inside_a_checkout_is_not_that_checkout(repo: Path) -> None:
    (repo / "web").mkdir()
    with pytest.raises(ReleaseTagError, match="is not a git repository"):
        await make_tag(repo / "web")
    assert git(repo, "tag", "-l") == ""


async def test_a_git_dir_in_the_environment_does_not_redirect_the_tag(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = make_repo(tmp_path / "elsewhere", commits=1)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(elsewhere))
    result = await make_tag(repo)
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert result.sha == git(repo, "rev-parse", "HEAD")
    assert git(repo, "tag", "-l") == BASE and git(elsewhere, "tag", "-l") == ""


async def test_git_missing(repo: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ReleaseTagError, match="git is not installed"):
        await propose_tag(repo, TODAY)


async def test_no_identity_says_how_to_set_one(repo: Path) -> None:
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    git(repo, "config", "user.useConfigOnly", "true")
    with pytest.raises(ReleaseTagError, match=r"set user\.name and user\.email"):
        await make_tag(repo)


# --- pushing --------------------------------------------------------------------------------

async def test_pushes_to_the_remote(repo: Path, bare: Path) -> None:
    result = await make_tag(repo, push=True)
    assert result.pushed and result.remote == "origin"
    assert result.summary.endswith(", pushed to origin")
    assert git(bare, "rev-parse", BASE) == git(repo, "rev-parse", BASE)


async def test_a_rejected_push_leaves_the_remote_tag_and_reports_the_local_one(
        repo: Path, bare: Path, tmp_path: Path) -> None:
    other = make_repo(tmp_path / "other", commits=1)
    git(other, "tag", BASE)
    git(other, "push", "-q", str(bare), BASE)
    theirs = git(bare, "rev-parse", BASE)
    with pytest.raises(ReleaseTagError, match="not pushed: the push to origin failed") as caught:
        await make_tag(repo, push=True)
    assert "already exists" in str(caught.value)
    assert caught.value.result is not None and not caught.value.result.pushed
    assert caught.value.result.sha == git(repo, "rev-parse", "HEAD")
    assert git(bare, "rev-parse", BASE) == theirs  # never forced


async def test_a_hook_refusal_is_reported_cleanly(repo: Path, bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nprintf '\\033]0;pwned\\007\\033[31mtags are frozen\\n' >&2\n"
                    "exit 1\n")
    hook.chmod(0o755)
    with pytest.raises(ReleaseTagError, match="tags are frozen") as caught:
        await make_tag(repo, push=True)
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)
    assert "pwned" not in str(caught.value)
    assert git(bare, "tag", "-l") == ""


@pytest.fixture
async def asks_for_password() -> AsyncIterator[str]:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})

    async with serve_handler(handler) as base_url:
        yield base_url


@pytest.mark.parametrize("credentials", ["", "deploy:hunter2-PLANTED@"])
async def test_a_remote_asking_for_a_password_fails_fast_without_showing_it(
        repo: Path, asks_for_password: str, credentials: str) -> None:
    url = asks_for_password.replace("http://", f"http://{credentials}") + "/app.git"
    git(repo, "remote", "add", "origin", url)
    began = time.monotonic()
    with pytest.raises(ReleaseTagError, match="not pushed") as caught:
        await make_tag(repo, push=True, limit=20)
    assert time.monotonic() - began < 15  # an answer, not the timeout
    assert "did not answer" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


async def test_a_push_that_never_answers_is_stopped_at_its_timeout(
        repo: Path, silent_server: str) -> None:
    git(repo, "remote", "add", "origin", silent_server)
    with pytest.raises(ReleaseTagError, match="did not answer within 1s") as caught:
        await make_tag(repo, push=True, limit=1)
    assert caught.value.result is not None and caught.value.result.tag == BASE
