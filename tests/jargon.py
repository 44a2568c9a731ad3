"""The words a clinic's office manager should not meet outside the "Advanced / for your IT
person" disclosure (issue 20), and a checker for server-rendered pages.

The browser tests run the same check on what Chromium actually shows (tests/e2e).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

JARGON = (
    "SIP",
    "trunk",
    "dispatch",
    "CIDR",
    "LiveKit",
    "Krisp",
    "room prefix",
    "converged",
    "metadata",
)
# Whole words with their plurals and inflections (trunks, dispatched), in any case.
JARGON_RE = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in JARGON) + r")(s|es|ed|ing)?\b", re.IGNORECASE
)

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


class _Visible(HTMLParser):
    """Collects the text a person sees: not inside <details class="advanced">, not in
    elements marked hidden, not scripts or styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # for each open element: does it hide its content?
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        hides = (
            (tag == "details" and "advanced" in classes)
            or "hidden" in values
            or tag in ("script", "style", "template")
        )
        self.stack.append(hides)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.text.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.text).split())


def jargon_in(text: str) -> list[str]:
    """Each jargon word found, with a little context, for a readable failure."""
    found = []
    for match in JARGON_RE.finditer(text):
        start, end = max(0, match.start() - 40), match.end() + 40
        found.append(f"{match.group(0)!r} in …{text[start:end]}…")
    return found
