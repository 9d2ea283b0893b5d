"""The runbook's `tag` step: propose the next free `vYYYY.MM.DD` tag, create it, push it.

git runs as a program (never through a shell), each call with a timeout, in its own
process group with no terminal and GIT_TERMINAL_PROMPT=0: it fails rather than waits for a
password. Nothing is ever forced: a tag that exists (here or on the remote) is an error,
never overwritten. Every failure is a ReleaseTagError with one line fit to show: control
sequences stripped, passwords in URLs hidden.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ppcockpit.process_group import run_captured
from ppcockpit.secrets import redact_url
from ppcockpit.text import one_line, strip_controls

GIT = "git"
DEFAULT_TIMEOUT_S = 20.0
REMOTE_LOOKUP_TIMEOUT_S = 5.0
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
# Variables that point git at some other repository than `repo` (set when the cockpit is
# started from a git hook, say): never inherited.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                         "GIT_PREFIX", "GIT_IMPLICIT_WORK_TREE", "GIT_SHALLOW_FILE",
                         "GIT_GRAFT_FILE")


class ReleaseTagError(Exception):
    """A tag could not be proposed, created or pushed; the message is one line fit to show.
    `result` is set when the tag was created locally but the push failed."""

    def __init__(self, message: str, result: TagResult | None = None) -> None:
        super().__init__(one_line(message, 300))
        self.result = result


@dataclass(frozen=True, slots=True)
class TagResult:
    tag: str
    sha: str  # the tagged commit
    ref: str  # what the operator asked to tag
    pushed: bool
    remote: str | None  # where it was pushed (None when not pushed)
    summary: str  # one line


def tag_base(today: date) -> str:
    return f"v{today:%Y.%m.%d}"


async def propose_tag(repo: Path, today: date, *, remote: str | None = "origin",
                      timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109
                      remote_timeout: float = REMOTE_LOOKUP_TIMEOUT_S) -> str:
    """The next free tag for `today`: `v2026.12.01`, or `.N` one past the highest suffix
    taken. Taken means a local tag, or a tag on `remote` when `git ls-remote` answers
    within `remote_timeout` (an unreachable remote is skipped: the push would then refuse
    a clash, never overwrite it)."""
    base = tag_base(today)
    await _check_repo(repo, timeout)
    taken = set((await _git(repo, ["tag", "--list", f"{base}*"], timeout, "tag --list"))
                .split())
    if remote:
        _check_option_free(remote, "remote")
        try:
            listed = await _git(repo, ["ls-remote", "--tags", "--refs", remote,
                                       f"refs/tags/{base}*"], remote_timeout, "ls-remote")
        except ReleaseTagError:
            listed = ""
        taken |= {ref.removeprefix("refs/tags/") for ref in listed.split()
                  if ref.startswith("refs/tags/")}
    return next_free(base, taken)


def next_free(base: str, taken: set[str]) -> str:
    """`base` when no tag of its family is taken, else `base.N` one past the highest."""
    family = re.compile(re.escape(base) + r"(?:\.(\d{1,6}))?")
    suffixes = [int(m.group(1) or 0) for tag in taken if (m := family.fullmatch(tag))]
    return base if not suffixes else f"{base}.{max(suffixes) + 1}"


async def create_tag(repo: Path, tag: str, ref: str, *, message: str, push: bool,
                     remote: str, timeout: float) -> TagResult:  # noqa: ASYNC109
    """Create the annotated tag `tag` at `ref` (and push it to `remote`). Never forced: a
    tag of that name that exists already, or appeared since it was proposed, is a
    ReleaseTagError and stays as it was."""
    _check_option_free(ref, "ref")
    if "\x00" in message:
        raise ReleaseTagError("the tag message holds a NUL character")
    await _check_repo(repo, timeout)
    await _check_tag_name(repo, tag, timeout)
    sha = await _commit_of(repo, ref, timeout)
    if await _exists(repo, f"refs/tags/{tag}", timeout):
        raise ReleaseTagError(_exists_message(tag))
    try:
        await _git(repo, ["tag", "--annotate", "--cleanup=whitespace",
                          "--message", message.strip() or tag, tag, sha], timeout, "tag")
    except _GitFailed as failed:
        if "already exists" in failed.detail:
            raise ReleaseTagError(_exists_message(tag)) from None
        if "tell me who you are" in failed.detail or "identity" in failed.detail:
            raise ReleaseTagError(
                "git does not know who is tagging: set user.name and user.email "
                f"(git config) in {repo}") from None
        raise
    if await _commit_of(repo, f"refs/tags/{tag}", timeout) != sha:
        raise ReleaseTagError(f"tag {tag} does not point at {sha[:12]} after creating it")
    summary = f"created {tag} at {sha[:12]} ({one_line(ref, 60)})"
    local = TagResult(tag, sha, ref, pushed=False, remote=None, summary=summary)
    if not push:
        return local
    try:
        await push_tag(repo, tag, remote=remote, timeout=timeout)
    except ReleaseTagError as exc:
        raise ReleaseTagError(f"{summary}, but not pushed: {exc}", result=local) from None
    return TagResult(tag, sha, ref, pushed=True, remote=remote,
                     summary=f"{summary}, pushed to {_show_remote(remote)}")


async def push_tag(repo: Path, tag: str, *, remote: str,
                   timeout: float) -> None:  # noqa: ASYNC109
    """Push the existing local tag to `remote`, never forced (a tag of that name already
    on the remote is refused by git and reported)."""
    _check_option_free(remote, "remote")
    try:
        await _git(repo, ["push", "--porcelain", remote,
                          f"refs/tags/{tag}:refs/tags/{tag}"], timeout, "push")
    except _GitFailed as failed:
        raise ReleaseTagError(f"the push to {_show_remote(remote)} failed: "
                              f"{failed.detail}") from None


# --- git ----------------------------------------------------------------------------------

class _GitFailed(ReleaseTagError):
    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"git {what} failed: {detail}")
        self.detail = detail


async def _git(repo: Path, args: list[str], limit_s: float, what: str) -> str:
    try:
        captured = await run_captured([GIT, *args], cwd=repo, env=_git_environment(repo),
                                      timeout=limit_s)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if exc.filename != GIT:  # the working directory, not git
            raise ReleaseTagError(f"the repository {repo} does not exist") from None
        raise ReleaseTagError("git is not installed (not found on PATH)") from None
    except (OSError, ValueError) as exc:
        raise ReleaseTagError(f"git could not start: {_clean(str(exc))}") from None
    if captured.timed_out:
        raise ReleaseTagError(f"git {what} did not answer within {limit_s:g}s (stopped)")
    out = captured.stdout.decode("utf-8", "replace")
    if captured.returncode != 0:
        # What went wrong: stderr without git's hints, and push --porcelain's "!" lines
        # (a rejected ref and why).
        err = captured.stderr.decode("utf-8", "replace")
        said = [line for line in err.splitlines() if not line.startswith("hint:")]
        said += [line for line in out.splitlines() if line.startswith("!")]
        raise _GitFailed(what, _clean("\n".join(said)) or f"exit {captured.returncode}")
    return out


def _git_environment(repo: Path) -> dict[str, str]:
    # With no controlling terminal (its own session) nothing can prompt on one either.
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",  # fail instead of asking for a username or password
        "GCM_INTERACTIVE": "never",  # Git Credential Manager: no dialog either
        "LC_ALL": "C",  # messages we recognise ("already exists")
        # Only `repo` itself: a directory inside some other checkout must not tag that one.
        "GIT_CEILING_DIRECTORIES": str(repo.resolve().parent),
    })
    return env


async def _check_repo(repo: Path, limit_s: float) -> None:
    try:
        await _git(repo, ["rev-parse", "--git-dir"], limit_s, "rev-parse")
    except _GitFailed as failed:
        if "not a git repository" in failed.detail:
            raise ReleaseTagError(f"{repo} is not a git repository (the `repo` of a tag "
                                  "step is the top of a checkout)") from None
        raise


async def _check_tag_name(repo: Path, tag: str, limit_s: float) -> None:
    _check_option_free(tag, "tag")
    if not tag or any(c.isspace() or not c.isprintable() for c in tag):
        raise ReleaseTagError(f"{tag!r} is not a valid tag name")
    try:
        await _git(repo, ["check-ref-format", f"refs/tags/{tag}"], limit_s,
                   "check-ref-format")
    except _GitFailed:
        raise ReleaseTagError(f"{tag!r} is not a valid tag name") from None


async def _commit_of(repo: Path, ref: str, limit_s: float) -> str:
    try:
        out = await _git(repo, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                         limit_s, "rev-parse")
    except _GitFailed:
        raise ReleaseTagError(f"no commit named {one_line(ref, 80)!r} in {repo}") from None
    return out.strip()


async def _exists(repo: Path, full_ref: str, limit_s: float) -> bool:
    try:
        await _git(repo, ["rev-parse", "--verify", "--quiet", full_ref], limit_s, "rev-parse")
    except _GitFailed:
        return False
    return True


def _exists_message(tag: str) -> str:
    return (f"tag {tag} already exists (created meanwhile?): left as it is, not "
            "overwritten; propose the next one")


def _check_option_free(value: str, what: str) -> None:
    if value.startswith("-"):
        raise ReleaseTagError(f"the {what} {one_line(value, 60)!r} starts with '-'")


def _clean(text: str) -> str:
    """git's words, fit for one line on screen: no control sequences, no URL password."""
    return one_line(_URL.sub(lambda m: redact_url(m.group(0)), strip_controls(text)), 240)


def _show_remote(remote: str) -> str:
    return _clean(remote)


__all__ = ["ReleaseTagError", "TagResult", "create_tag", "next_free", "propose_tag",
           "push_tag", "tag_base"]
