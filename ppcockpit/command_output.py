"""A command's output bytes as lines of bounded length. Pure: no I/O.

Bytes arrive in chunks of any size, cut anywhere (inside a UTF-8 character, between a CR
and its LF). Invalid UTF-8 becomes U+FFFD. LF, CRLF and a lone CR each end a line (a
progress bar's CR updates become lines, nothing is overwritten). A line longer than
`max_line` characters is cut there, marked, and the rest of it dropped as it arrives, so a
process that never prints a newline holds at most `max_line` characters plus one chunk.
"""

from __future__ import annotations

import codecs
import re

# Starts with "…" so that Redactor also hides a secret cut short by the mark.
CUT_MARK = "… [line cut at {max_line} characters]"
_LINE_END = re.compile(r"\r\n?|\n")


class LineAssembler:
    """Feed bytes in, get complete lines out (without their line ends)."""

    def __init__(self, max_line: int = 4096) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.max_line = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []
        self._partial_len = 0
        self._dropping = False  # the current line was cut: drop until its end
        self._after_cr = False  # the last character seen was a CR (an LF next is its pair)

    def feed(self, data: bytes) -> list[str]:
        return self._take(self._decoder.decode(data))

    def finish(self) -> list[str]:
        """The lines still pending at the end of the output (a last line without a line
        end included)."""
        lines = self._take(self._decoder.decode(b"", final=True))
        if self._partial:
            lines.append(self._pop_partial())
        self._dropping = False
        return lines

    def _take(self, text: str) -> list[str]:
        lines: list[str] = []
        start = 0
        if self._after_cr and text:
            self._after_cr = False
            if text[0] == "\n":
                start = 1
        for match in _LINE_END.finditer(text, start):
            self._add(text[start:match.start()], lines)
            if self._dropping:
                self._dropping = False
            else:
                lines.append(self._pop_partial())
            start = match.end()
        self._add(text[start:], lines)
        if text:  # a CR at the very end may have its LF in the next chunk
            self._after_cr = text.endswith("\r")
        return lines

    def _add(self, piece: str, lines: list[str]) -> None:
        if self._dropping or not piece:
            return
        room = self.max_line - self._partial_len
        if len(piece) <= room:
            self._partial.append(piece)
            self._partial_len += len(piece)
            return
        self._partial.append(piece[:room])
        lines.append(self._pop_partial() + CUT_MARK.format(max_line=self.max_line))
        self._dropping = True

    def _pop_partial(self) -> str:
        line = "".join(self._partial)
        self._partial = []
        self._partial_len = 0
        return line


__all__ = ["CUT_MARK", "LineAssembler"]
