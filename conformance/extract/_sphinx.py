"""Read facts out of Sphinx-built documentation pages (stdlib only): the option list sphinx-click renders
for a click command (the "Syntax" section of a command page), and the module source a viewcode page
(`_modules/<module>.html`) shows, as plain Python text for `ast`.

Used by conformance/extract/tensorrt_llm.py for TensorRT-LLM 1.x, whose wheels and git tags are out of
reach here but whose versioned documentation (nvidia.github.io/TensorRT-LLM/<version>/, the gh-pages
branch of NVIDIA/TensorRT-LLM) is generated from the release's own source.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_TAG = re.compile(r"<[^>]+>")


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded."""
    return html.unescape(_TAG.sub("", fragment))


def viewcode_source(page: str) -> str:
    """The Python source shown by a sphinx.ext.viewcode page: the text of its highlighted <pre> block,
    without the `[docs]` back-links viewcode inserts before documented definitions."""
    start = page.index('<div class="highlight"><pre>')
    end = page.index("</pre></div>", start)
    body = re.sub(r'<a class="viewcode-back"[^>]*>\[docs\]</a>\n?', "", page[start:end])
    return text_of(body.split("<pre>", 1)[1])


class _Options(HTMLParser):
    """Collects each `<dl class="std option">` of one section: spellings (descname spans), metavar
    (the `<...>` of a descclassname span), stability tag, and the "Options:" field list (choices)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[dict] = []
        self.cur: dict | None = None
        self.stack: list[str] = []
        self.mode: str | None = None
        self.field: str | None = None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "dl" and "std option" in cls:
            self.cur = {"names": [], "metavar": None, "stability": None, "choices": None, "help": ""}
            self.items.append(self.cur)
        elif self.cur is not None and tag == "span" and "sig-name descname" in cls:
            self.mode = "name"
        elif self.cur is not None and tag == "span" and "sig-prename descclassname" in cls:
            self.mode = "prename"
        elif self.cur is not None and tag == "code" and cls.startswith("tag "):
            self.cur["stability"] = cls.split()[1]
        elif self.cur is not None and tag == "dt" and "field-odd" in cls:
            self.field = "key"
        elif self.cur is not None and tag == "dd" and "field-odd" in cls:
            self.field = "value"
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
        if tag == "span" and self.mode and "span" not in self.stack[-1:]:
            self.mode = None
        if tag == "dl" and self.cur is not None and "dl" not in self.stack:
            self.cur = None

    def handle_data(self, data):
        if self.cur is None or not data.strip():
            return
        value = data.strip()
        if self.mode == "name":
            self.cur["names"].append(value)
        elif self.mode == "prename" and value.startswith("<") and value.endswith(">"):
            self.cur["metavar"] = value[1:-1]
        elif self.field == "value" and self.cur.get("_key") == "Options":
            self.cur["choices"] = [c.strip() for c in value.split("|")]
            self.field = None
        elif self.field == "key":
            self.cur["_key"] = value.rstrip(":")
            self.field = None


def click_section(page: str, section_id: str) -> list[dict]:
    """The options sphinx-click lists in `<section id="section_id">` (up to its next sibling section):
    [{"names": [...], "metavar": str | None, "stability": str | None, "choices": [...] | None}]; the
    "Arguments" entries (no leading dash) are left out."""
    start = page.index(f'<section id="{section_id}">')
    end = page.find("</section>", start)
    parser = _Options()
    parser.feed(page[start:end])
    return [o for o in parser.items if o["names"] and o["names"][0].startswith("-")]
