"""Reading Markdown blocks (markdown-it syntax tree nodes): their plain text, their text as
help lines, and the commands they hold. Pure: no I/O."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ppcockpit.text import has_controls, strip_controls

if TYPE_CHECKING:
    from markdown_it.tree import SyntaxTreeNode

MAX_COMMAND = 1000
COMMAND_WORDS = frozenset({
    "ansible-playbook", "aws", "bash", "bun", "bunx", "curl", "deno", "docker",
    "docker-compose", "doctl", "fly", "flyctl", "gcloud", "gh", "git", "glab", "heroku", "helm",
    "http", "jq", "journalctl", "kubectl", "make", "netlify", "node", "npm", "npx", "pg_dump",
    "pg_restore", "pip", "pnpm", "psql", "python", "python3", "railway", "redis-cli", "rsync",
    "scp", "sh", "ssh", "sudo", "supabase", "systemctl", "terraform", "uv", "vercel", "wget",
    "wrangler", "yarn",
})
SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell", "zsh", "console", "terminal",
                             "shell-session", "shellsession", "ksh"})
_ENV_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S*)\s+)+(?=\S)")
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w .-]*>")
TASK_BOX = re.compile(r"^\[[ xX]\]\s*")
_SPACES = re.compile(r"\s+")


def looks_like_command(code: str) -> str | None:
    """`code` as a command line when it looks like one (`npm run test`, `./deploy.sh`,
    `API_URL=... npx playwright test`), else None. A line with a `<placeholder>` is a
    template for a human, not a command to run; a line holding a control character (an escape
    pasted from a terminal) is text to read, not a command to run."""
    line = code.strip()
    if has_controls(line):
        return None
    if line.startswith("$ "):
        line = line[2:].strip()
    if not line or "\n" in line or len(line) > MAX_COMMAND or _PLACEHOLDER.search(line):
        return None
    prefixed = _ENV_PREFIX.match(line)
    if prefixed:
        return line
    word = line.split(None, 1)[0]
    if word in COMMAND_WORDS:
        return line
    if word.startswith(("./", "../", "~/")) and len(word) > 2:
        return line
    if word.startswith("/") and ("/bin/" in word or word.endswith(".sh")):
        return line
    return None


def fence_commands(node: SyntaxTreeNode) -> tuple[list[str], bool]:
    """The commands in a fenced or indented code block of shell (none for other languages;
    in a `console` block only the `$ ` lines, the rest being output), and whether every
    other line was a comment or output (False: a line such as `export X=1` was not taken,
    and the block belongs in the help so that the operator sees it)."""
    words = (node.info or "").split(maxsplit=1) if node.type == "fence" else []
    language = words[0].lower() if words else ""
    if language not in SHELL_LANGUAGES:
        return [], False
    prompt_only = language in ("console", "terminal", "shell-session", "shellsession")
    commands: list[str] = []
    whole = True
    pending = ""
    for raw in node.content.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        if not line or line.startswith("#") or (prompt_only and not line.startswith("$ ")):
            continue
        command = looks_like_command(line)
        if command:
            commands.append(command)
        else:
            whole = False
    return commands, whole


# --- text --------------------------------------------------------------------------------------

def clean(text: str) -> str:
    """Outside text as one tidy line: no control characters, single spaces."""
    return _SPACES.sub(" ", strip_controls(text)).strip()


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def inline_text(node: SyntaxTreeNode) -> str:
    """The plain text of an inline node (code without backticks, links as their text)."""
    parts: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if item.type in ("text", "code_inline"):
            parts.append(item.content)
        elif item.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif item.type == "html_inline":
            continue
        stack.extend(reversed(item.children))
    return clean("".join(parts))


def inline_commands(node: SyntaxTreeNode) -> list[str]:
    """The commands written as inline code in an inline node."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if item.type == "code_inline":
            command = looks_like_command(item.content)
            if command:
                found.append(command)
        stack.extend(reversed(item.children))
    return found


def block_lines(node: SyntaxTreeNode, indent: str = "") -> list[str]:
    """A block as help text lines: lists keep their markers and nesting, code is indented."""
    kind = node.type
    if kind in ("paragraph", "heading"):
        text = inline_text(node.children[0]) if node.children else ""
        return [indent + text] if text else []
    if kind in ("fence", "code_block"):
        return [indent + "    " + strip_controls(line).rstrip()
                for line in node.content.splitlines() if line.strip()]
    if kind in ("bullet_list", "ordered_list"):
        lines: list[str] = []
        for number, item in enumerate(node.children, start=1):
            marker = f"{number}. " if kind == "ordered_list" else "- "
            inner: list[str] = []
            for child in item.children:
                inner += block_lines(child, indent + "   ")
            if inner:
                inner[0] = indent + marker + TASK_BOX.sub("", inner[0].strip())
            lines += inner
        return lines
    if kind == "blockquote":
        return [line for child in node.children for line in block_lines(child, indent)]
    if kind == "table":
        return [indent + " · ".join(row) for row in table_rows(node) if any(row)]
    return []  # html blocks (comments), rules


def table_rows(node: SyntaxTreeNode) -> list[list[str]]:
    rows: list[list[str]] = []
    for section in node.children:
        for row in section.children:
            rows.append([inline_text(cell.children[0]) if cell.children else ""
                         for cell in row.children])
    return rows


def parse(text: str) -> SyntaxTreeNode:
    """Markdown as a syntax tree (CommonMark, with tables and HTML blocks)."""
    from markdown_it import MarkdownIt  # only when importing (a dependency of rich)
    from markdown_it.tree import SyntaxTreeNode

    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    return SyntaxTreeNode(parser.parse(text))
