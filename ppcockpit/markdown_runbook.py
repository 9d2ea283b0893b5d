"""A Markdown runbook as runbook data (the shape of runbook.toml). Pure: no I/O.

Phases come from the section headings (a lone `#` title names the runbook); steps from
list items (`- [ ]`, `-`, `1.`), their nested items becoming the step's help; code that
looks like a command (in a fence or inline) becomes a `command` step; everything else is a
`manual` step. A section with no steps becomes one "Read and confirm" step holding its text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ppcockpit.text import strip_controls

if TYPE_CHECKING:
    from markdown_it.tree import SyntaxTreeNode

MAX_TITLE = 120
MAX_HELP = 4000
MAX_COMMAND = 1000
MAX_SLUG = 40
_TRAILING_WORDS = frozenset({"a", "an", "and", "are", "as", "at", "by", "for", "from", "in",
                             "is", "of", "on", "or", "the", "to", "with"})
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
_TASK_BOX = re.compile(r"^\[[ xX]\]\s*")
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*[.)]|\d{1,3}(?:\.\d{1,3})+)\s+")
_SPACES = re.compile(r"\s+")


class NothingToImport(ValueError):
    """The Markdown holds no section, list item or text to make a runbook of."""


def looks_like_command(code: str) -> str | None:
    """`code` as a command line when it looks like one (`npm run test`, `./deploy.sh`,
    `API_URL=... npx playwright test`), else None. A line with a `<placeholder>` is a
    template for a human, not a command to run."""
    line = code.strip()
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
                inner[0] = indent + marker + _TASK_BOX.sub("", inner[0].strip())
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


# --- steps -------------------------------------------------------------------------------------

@dataclass
class Draft:
    """A step before it has an id."""

    title: str
    kind: str = "manual"
    run: str = ""
    help: list[str] = field(default_factory=list)


def step_title(text: str, fallback: str) -> str:
    return cut(_TASK_BOX.sub("", text).strip(), MAX_TITLE) or fallback


def whole_text(text: str) -> list[str]:
    """The text of a title that had to be cut, for the help (nothing when it was not)."""
    text = _TASK_BOX.sub("", text).strip()
    return [text] if len(text) > MAX_TITLE else []


def command_drafts(title: str, commands: list[str], help_lines: list[str]) -> list[Draft]:
    """One command step per command: a lone command takes the item's title; several are
    each titled by their command, the item's text becoming their help."""
    if len(commands) == 1:
        return [Draft(title or cut(f"Run {commands[0]}", MAX_TITLE), "command", commands[0],
                      help_lines)]
    context = [title, *help_lines] if title else help_lines
    return [Draft(cut(f"Run {command}", MAX_TITLE), "command", command, list(context))
            for command in commands]


def item_drafts(item: SyntaxTreeNode) -> list[Draft]:
    """The steps of one list item: itself (manual or command), then a command step for each
    nested item that holds a command."""
    children = list(item.children)
    title = ""
    commands: list[str] = []
    help_lines: list[str] = []
    nested: list[Draft] = []
    if children and children[0].type == "paragraph" and children[0].children:
        first = children.pop(0)
        title = inline_text(first.children[0])
        commands += inline_commands(first.children[0])
    for child in children:
        if child.type == "paragraph" and child.children:
            commands += inline_commands(child.children[0])
        elif child.type in ("fence", "code_block"):
            found, whole = fence_commands(child)
            commands += found
            if found and whole:
                continue
        elif child.type in ("bullet_list", "ordered_list"):
            for sub in child.children:
                nested += [d for d in item_drafts(sub) if d.kind == "command"]
        help_lines += block_lines(child)
    help_lines = whole_text(title) + help_lines
    title = step_title(title, "")
    if commands:
        return command_drafts(title, _unique(commands), help_lines) + nested
    if not title and help_lines:  # an item that starts with a list or a quote
        title = step_title(help_lines.pop(0).strip().lstrip("-").strip(), "")
    return [Draft(title or "Step", "manual", "", help_lines), *nested]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass
class Section:
    """A phase being built: its steps and notes in the order they were written."""

    title: str
    parts: list[tuple[str, Any]] = field(default_factory=list)  # ("note", text) | ("step", Draft)

    def note(self, lines: list[str]) -> None:
        if lines:
            self.parts.append(("note", "\n".join(lines)))

    def steps(self, drafts: list[Draft]) -> None:
        self.parts += [("step", draft) for draft in drafts]

    def has_steps(self) -> bool:
        return any(kind == "step" for kind, _ in self.parts)

    def add_block(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        if kind in ("bullet_list", "ordered_list"):
            for item in node.children:
                self.steps(item_drafts(item))
        elif kind in ("fence", "code_block"):
            commands, whole = fence_commands(node)
            if commands:
                intro = self._take_last_note()
                self.steps(command_drafts(step_title(intro, ""), _unique(commands),
                                          [] if whole else block_lines(node)))
            else:
                self.note(block_lines(node))
        elif kind == "paragraph" and node.children:
            commands = inline_commands(node.children[0])
            text = inline_text(node.children[0])
            if commands:
                self.steps(command_drafts(step_title(text, ""), _unique(commands), []))
            else:
                self.note(block_lines(node))
        elif kind == "table":
            self._add_table(node)
        elif kind == "blockquote":
            self.note(block_lines(node))

    def _add_table(self, node: SyntaxTreeNode) -> None:
        """A table is text, except that each row holding a command becomes a command step
        titled by the row's first cell."""
        body = node.children[1].children if len(node.children) > 1 else []
        found = [_unique([c for cell in row.children if cell.children
                          for c in inline_commands(cell.children[0])]) for row in body]
        if not any(found):
            self.note(block_lines(node))
            return
        for row, commands in zip(body, found, strict=True):
            cells = [inline_text(cell.children[0]) if cell.children else ""
                     for cell in row.children]
            text = " · ".join(cell for cell in cells if cell)
            if commands:
                first = cells[0] if cells and cells[0] not in commands else ""
                self.steps(command_drafts(step_title(first, ""), commands,
                                          [text] if text != first else []))
            elif text:
                self.note([text])

    def _take_last_note(self) -> str:
        if self.parts and self.parts[-1][0] == "note" and "\n" not in self.parts[-1][1]:
            return self.parts.pop()[1]
        return ""

    def drafts(self, heading: str = "") -> list[Draft]:
        """The steps, each note added to the help of the step before it. Text before the
        first step is a step of its own (titled by `heading`, else "Read and confirm"),
        unless it only introduces what follows ("Run these:"). No steps at all: that one
        step, holding all the text."""
        drafts: list[Draft] = []
        leading: list[str] = []
        for kind, value in self.parts:
            if kind == "step":
                drafts.append(value)
            elif drafts:
                drafts[-1].help.append(value)
            else:
                leading.append(value)
        if drafts and len(leading) == 1 and leading[0].rstrip().endswith(":") and not heading:
            drafts[0].help = [*leading, *drafts[0].help]
        elif leading or not drafts:
            drafts.insert(0, Draft(heading or "Read and confirm", "manual", "", leading))
        return drafts


# --- the document ------------------------------------------------------------------------------

def parse(text: str) -> SyntaxTreeNode:
    from markdown_it import MarkdownIt  # only when importing (a dependency of rich)
    from markdown_it.tree import SyntaxTreeNode

    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    return SyntaxTreeNode(parser.parse(text))


def heading_level(node: SyntaxTreeNode) -> int:
    return int(node.tag[1:]) if node.type == "heading" and node.tag[1:].isdigit() else 0


def heading_text(node: SyntaxTreeNode) -> str:
    text = inline_text(node.children[0]) if node.children else ""
    return _NUMBERING.sub("", text).strip() or text


def import_markdown(text: str, source: str = "runbook.md") -> dict[str, Any]:
    """The runbook data (ready for tomli_w) of a Markdown runbook; NothingToImport when it
    holds nothing to walk."""
    blocks = list(parse(text).children)
    levels = [heading_level(b) for b in blocks if b.type == "heading"]
    title = ""
    if levels and levels[0] == 1 and levels.count(1) == 1:
        title = heading_text(next(b for b in blocks if b.type == "heading"))
        levels = levels[1:]
    phase_level = min(levels, default=0)

    preamble = Section("Before you start")
    sections: list[Section] = []
    group: Section | None = None  # a sub-heading's part of the current section
    for block in blocks:
        level = heading_level(block)
        if level and title and level == 1 and not sections and not group:
            continue  # the title itself
        if level and level <= phase_level:
            _close(group, sections, preamble)
            group = None
            sections.append(Section(cut(heading_text(block), MAX_TITLE)
                                    or f"Section {len(sections) + 1}"))
        elif level:
            _close(group, sections, preamble)
            group = Section(cut(heading_text(block), MAX_TITLE))
        elif group is not None:
            group.add_block(block)
        else:
            (sections[-1] if sections else preamble).add_block(block)
    _close(group, sections, preamble)

    if not sections:
        if not preamble.parts:
            raise NothingToImport(f"{source}: nothing to import: no sections, list items or "
                                  "text")
        preamble.title = title or "Checklist"
        sections = [preamble]
    elif preamble.has_steps():
        sections.insert(0, preamble)
    return {"title": title or _title_from(source), "phases": _phases(sections)}


def _close(group: Section | None, sections: list[Section], preamble: Section) -> None:
    """A finished sub-heading part joins its section. Its text before its first step (or
    all of it, when it has no steps) becomes a manual step titled by the sub-heading."""
    if group is not None:
        target = sections[-1] if sections else preamble
        target.steps(group.drafts(heading=group.title or "Read and confirm"))


def _title_from(source: str) -> str:
    name = re.split(r"[\\/]", source)[-1]
    name = re.sub(r"\.(md|markdown|txt)$", "", name, flags=re.IGNORECASE)
    return cut(clean(name.replace("_", " ").replace("-", " ")), MAX_TITLE) or "Runbook"


def _phases(sections: list[Section]) -> list[dict[str, Any]]:
    phases: list[dict[str, Any]] = []
    phase_ids = SlugSet()
    for number, section in enumerate(sections, start=1):
        phase_id = phase_ids.add(slugify(section.title, f"phase-{number}"))
        step_ids = SlugSet()
        steps: list[dict[str, Any]] = []
        for index, draft in enumerate(section.drafts(), start=1):
            step: dict[str, Any] = {
                "id": step_ids.add(slugify(draft.title, f"step-{index}")),
                "title": draft.title or f"Step {index}", "kind": draft.kind}
            if draft.run:
                step["run"] = draft.run
            help_text = cut("\n".join(h for h in draft.help if h).strip("\n").rstrip(), MAX_HELP)
            if help_text:
                step["help"] = help_text
            steps.append(step)
        phases.append({"id": phase_id, "title": section.title or f"Section {number}",
                       "steps": steps})
    return phases


def slugify(text: str, fallback: str) -> str:
    """A stable slug of at most MAX_SLUG characters, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > MAX_SLUG:
            break
        slug = candidate
    kept = slug.split("-") if slug else []
    while len(kept) > 1 and kept[-1] in _TRAILING_WORDS:  # "aware-of-the" reads badly
        kept.pop()
    slug = "-".join(kept)
    if not slug and words:
        slug = words[0][:MAX_SLUG]
    return slug or fallback


class SlugSet:
    """Slugs made unique by a number (`-2`, `-3`), counted per stem: linear, however many
    steps share a title."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self._next: dict[str, int] = {}

    def add(self, slug: str) -> str:
        candidate = slug
        number = self._next.get(slug, 1)
        while candidate in self.taken:
            number += 1
            candidate = f"{slug}-{number}"
        self._next[slug] = number
        self.taken.add(candidate)
        return candidate
