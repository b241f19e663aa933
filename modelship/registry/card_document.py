"""A small document (sections of paragraphs, lists and tables) written out as Markdown or as a
self-contained HTML page. Every value is text and is escaped on the way out: a feature name,
category or owner's note can hold `<script>` or `|` and still only ever print as itself."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Paragraph | Bullets | Table


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    title: str
    sections: tuple[Section, ...]

    def markdown(self) -> str:
        parts = [f"# {md_text(self.title)}"]
        for section in self.sections:
            parts.append(f"## {md_text(section.title)}")
            parts.extend(_md_block(block) for block in section.blocks)
        return "\n\n".join(parts) + "\n"

    def html(self) -> str:
        body = [f"<h1>{_h(self.title)}</h1>"]
        for section in self.sections:
            body.append(f"<section>\n<h2>{_h(section.title)}</h2>")
            body.extend(_html_block(block) for block in section.blocks)
            body.append("</section>")
        return _PAGE.format(title=_h(self.title), body="\n".join(body))


# CommonMark treats any backslash-escaped ASCII punctuation as itself: escaping these keeps a
# value from opening emphasis, a link, code, an HTML tag or a table cell.
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]<|~])")
# What opens a heading, list, quote or rule at the start of a paragraph or list item (a `>`
# elsewhere closes nothing: every `<` is escaped).
_MD_BLOCK_MARK = re.compile(r"^(?:>|[#+-]+(?=\s|$)|\d+(?=[.)](?:\s|$)))")
# An underscore emphasises only at a word's edge: tenure_months stays readable.
_MD_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def md_text(value: object, *, block_start: bool = False) -> str:
    """`value` as one line of Markdown text that renders as exactly itself; `block_start`
    when it begins a paragraph or list item, where `- x` or `1. x` would open a list."""
    text = " ".join(str(value).split())
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _MD_EDGE_UNDERSCORE.sub(r"\\_", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    if block_start:
        text = _MD_BLOCK_MARK.sub(_escape_mark, text)
    return text


def _escape_mark(match: re.Match[str]) -> str:
    mark = match.group(0)
    return mark + "\\" if mark[0].isdigit() else "\\" + mark


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return md_text(block.text, block_start=True)
    if isinstance(block, Bullets):
        return "\n".join(f"- {md_text(item, block_start=True)}" for item in block.items)
    lines = [
        "| " + " | ".join(md_text(cell) for cell in block.header) + " |",
        "|" + "---|" * len(block.header),
    ]
    lines.extend("| " + " | ".join(md_text(cell) for cell in row) + " |" for row in block.rows)
    return "\n".join(lines)


def _h(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_h(block.text)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_h(item)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    head = "".join(f"<th>{_h(cell)}</th>" for cell in block.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_h(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


# No script, no external stylesheet or font: the page is read from S3 or a temp file as is.
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 68rem; margin: 2rem auto;
  padding: 0 1rem; color: #1b1f24; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 1px solid #d0d7de; }}
table {{ border-collapse: collapse; margin: .5rem 0; }}
th, td {{ border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }}
th {{ background: #f6f8fa; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
