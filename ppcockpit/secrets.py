"""Keeping secret values off the screen, out of logs and out of error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

# Values shorter than this are too common ("1", "ok") to hunt for in text.
MIN_SECRET_LENGTH = 4
# A secret cut short ("sbp_PLANTEDmgm…") is still hidden when at least this much of it shows.
MIN_PREFIX_SHOWN = 4
TRUNCATION_MARKS = ("…", "...")
MAX_DATA_DEPTH = 64
# Names of variables and settings that hold credentials.
_SECRET_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|PWD|CREDENTIAL|AUTH|PRIVATE|DSN|WEBHOOK|COOKIE"
    r"|SESSION|SIGNATURE|CERT", re.IGNORECASE)


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible name for a secret: sha256/8."""
    import hashlib  # only for secrets parity: ~1 ms off the cockpit's start

    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def looks_secret(name: str) -> bool:
    """True for a variable or setting name that holds a credential (API_KEY, access_token)."""
    return bool(_SECRET_NAME.search(name))


def url_password(value: str) -> str | None:
    """The password inside a URL's userinfo (`redis://:pw@host`), if it holds one."""
    if "@" not in value or "://" not in value:
        return None
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return password or None


class Redactor:
    """Replaces every known secret value in a text by its fingerprint.

    One regular expression, a trie of the secrets' first characters, finds where any secret
    could begin; the candidates that begin there are compared, longest first. A value
    cut short by a truncation mark ("…") is hidden too.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._heads: re.Pattern[str] | None = None
        self._by_head: dict[str, list[str]] = {}
        self._longest = 0
        self.add(values)

    def add(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}
        # A URL's password is a secret of its own: it shows without the rest of the URL.
        fresh |= {p for v in list(fresh) if (p := url_password(v)) is not None
                  and len(p) >= MIN_SECRET_LENGTH}
        fresh |= {unquote(p) for p in list(fresh) if "%" in p}
        if not fresh - self._values:
            return
        self._values |= fresh
        by_head: dict[str, list[str]] = {}
        for value in self._values:
            by_head.setdefault(value[:MIN_PREFIX_SHOWN], []).append(value)
        for candidates in by_head.values():
            candidates.sort(key=len, reverse=True)
        self._by_head = by_head
        # A trie, not an alternation: the regex engine then tries one branch per character
        # instead of every head at every position. Lookahead: overlapping places count too.
        self._heads = re.compile(f"(?=({_trie_pattern(by_head)}))")
        self._longest = max(len(v) for v in self._values)

    @property
    def values(self) -> frozenset[str]:
        return frozenset(self._values)

    def __call__(self, text: str) -> str:
        if self._heads is None or not text:
            return text
        return self._hide_cut_secrets(self._hide_whole_secrets(text))

    def data(self, value: Any, _depth: int = 0) -> Any:
        """`value` (dicts, lists, strings: keys too) with every secret replaced, before it
        is serialised: redacting JSON text afterwards misses secrets that escaping changed
        (a `"` or a tab inside a token) and corrupts ordinary values."""
        if self._heads is None:
            return value
        if isinstance(value, str):
            return self(value)
        if _depth >= MAX_DATA_DEPTH:
            return "[too deeply nested]"
        if isinstance(value, dict):
            return {self.data(k, _depth + 1): self.data(v, _depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item, _depth + 1) for item in value]
        return value

    def _hide_whole_secrets(self, text: str) -> str:
        assert self._heads is not None
        pieces: list[str] = []
        done = 0  # text before this index is already in `pieces`
        for match in self._heads.finditer(text):
            start = match.start()
            if start < done:
                continue  # inside a secret already replaced
            for value in self._by_head[match.group(1)]:
                if text.startswith(value, start):
                    pieces += [text[done:start], f"[{fingerprint(value)}]"]
                    done = start + len(value)
                    break
        return "".join(pieces) + text[done:] if pieces else text

    def _hide_cut_secrets(self, text: str) -> str:
        ends = [m.start() for mark in TRUNCATION_MARKS for m in re.finditer(re.escape(mark), text)]
        ends.append(len(text))
        for end in sorted(set(ends), reverse=True):  # from the right: earlier ends stay valid
            start = self._cut_secret_start(text, end)
            if start is not None:
                text = text[:start] + "[redacted]" + text[end:]
        return text

    def _cut_secret_start(self, text: str, end: int) -> int | None:
        """Where, before `end`, a text begins that is the start of a secret (None if none)."""
        assert self._heads is not None
        for match in self._heads.finditer(text, max(0, end - self._longest), end):
            start = match.start()
            for value in self._by_head[match.group(1)]:
                if end - start < len(value) and value.startswith(text[start:end]):
                    return start
        return None


def _trie_pattern(values: Iterable[str]) -> str:
    """A regular expression matching any of `values` (the longest where several do)."""
    root: dict[str, Any] = {}
    for value in values:
        node = root
        for char in value:
            node = node.setdefault(char, {})
        node[""] = True
    return _node_pattern(root)


def _node_pattern(node: dict[str, Any]) -> str:
    branches = [re.escape(char) + _node_pattern(node[char]) for char in sorted(node) if char]
    if not branches:
        return ""
    if len(branches) == 1 and "" not in node:
        return branches[0]
    group = "(?:" + "|".join(branches) + ")"
    return group + "?" if "" in node else group


def redact_url(url: str) -> str:
    """A URL fit to show: the password (and any query string) replaced, user and host kept."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
