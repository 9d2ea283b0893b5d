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

from ppcockpit.markdown_blocks import (
    TASK_BOX,
    block_lines,
    clean,
    cut,
    fence_commands,
    inline_commands,
    inline_text,
    parse,
)

if TYPE_CHECKING:
    from markdown_it.tree import SyntaxTreeNode

MAX_TITLE = 120
MAX_HELP = 4000
MAX_SLUG = 40
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*[.)]|\d{1,3}(?:\.\d{1,3})+)\s+")
_TRAILING_WORDS = frozenset({"a", "an", "and", "are", "as", "at", "by", "for", "from", "in",
                             "is", "of", "on", "or", "the", "to", "with"})


class NothingToImport(ValueError):
    """The Markdown holds no section, list item or text to make a runbook of."""


# --- steps -------------------------------------------------------------------------------------

@dataclass
class Draft:
    """A step before it has an id."""

    title: str
    kind: str = "manual"
    run: str = ""
    help: list[str] = field(default_factory=list)


def step_title(text: str, fallback: str) -> str:
    return cut(TASK_BOX.sub("", text).strip(), MAX_TITLE) or fallback


def whole_text(text: str) -> list[str]:
    """The text of a title that had to be cut, for the help (nothing when it was not)."""
    text = TASK_BOX.sub("", text).strip()
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
                self.steps(command_drafts(step_title(text, ""), _unique(commands),
                                          whole_text(text)))
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
