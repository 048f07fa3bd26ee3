"""A small XML element tree and its serialisation, for the documents smgwd writes (no lxml).

How this works: an :class:`Element` holds a tag (already prefixed where the
document uses namespaces: ``ns1:object``), attributes in insertion order, and
either text or child elements; :func:`document` writes the tree as UTF-8 with
lxml's ``pretty_print`` layout (``<?xml version='1.0' encoding='UTF-8'?>``, two
spaces a level, a leaf on one line, ``<tag/>`` without text, ``<tag></tag>``
with empty text), so a document is byte for byte what lxml would write for the
same tree; the tests hold it to that. A subtree can be written at once with
:func:`serialized` at the level where it will sit and put into its parent as
that text: an encoder writes each object or entry as soon as it is made, so a
document in flight holds strings, not a tree of small objects (which would
leave the interpreter's small-object arenas fragmented after a large build). Writing needs no XML library: the daemon
builds every delivery with this module and never loads lxml (some 5 MiB
resident, and a tree per document in flight) for it; parsing stays in
:mod:`smgwd.safexml`.

Text and attribute values must be XML 1.0 characters: anything else (a C0
control character, a lone surrogate, U+FFFE/U+FFFF) raises ValueError when it
is set, as lxml does.
"""

from __future__ import annotations

import re

__all__ = ["Element", "document", "serialized"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                               "\n": "&#10;", "\t": "&#9;"})
_PLAIN_TEXT = re.compile(r"[^&<>\r]*")
_PLAIN_ATTR = re.compile(r'[^&<>"\r\n\t]*')


def _checked(value: str) -> str:
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise ValueError(f"All strings must be XML compatible: {bad.group()!r} at {bad.start()} is not an XML 1.0 "
                         f"character")
    return value


class Element:
    """One element: ``tag``, ``attrib`` (name -> value), ``text`` or ``children``."""

    __slots__ = ("tag", "attrib", "_text", "children")

    def __init__(self, tag: str, attrib: dict[str, str] | None = None, text: str | None = None) -> None:
        self.tag = tag
        self.attrib: dict[str, str] = {}
        self._text: str | None = None
        self.children: list[Element | str] = []  # a str: a subtree already serialized at its level
        for name, value in (attrib or {}).items():
            self.set(name, value)
        self.text = text

    @property
    def text(self) -> str | None:
        return self._text

    @text.setter
    def text(self, value: str | None) -> None:
        self._text = None if value is None else _checked(value)

    def set(self, name: str, value: str) -> None:
        self.attrib[name] = _checked(value)

    def append(self, child: Element | str) -> None:
        self.children.append(child)

    def sub(self, tag: str, text: str | None = None, **attrib: str) -> Element:
        """A new child element (appended), returned."""
        child = Element(tag, attrib, text)
        self.children.append(child)
        return child

    def __len__(self) -> int:
        return len(self.children)

    def _write(self, out: list[str], indent: str) -> None:
        out.append(f"{indent}<{self.tag}")
        for name, value in self.attrib.items():
            out.append(f' {name}="{value if _PLAIN_ATTR.fullmatch(value) else value.translate(_ATTR_ESCAPES)}"')
        if self.children:
            out.append(">\n")
            inner = indent + "  "
            for child in self.children:
                if isinstance(child, str):
                    out.append(child)
                else:
                    child._write(out, inner)
            out.append(f"{indent}</{self.tag}>\n")
        elif self._text is None:
            out.append("/>\n")
        else:
            text = self._text if _PLAIN_TEXT.fullmatch(self._text) else self._text.translate(_TEXT_ESCAPES)
            out.append(f">{text}</{self.tag}>\n")


def serialized(element: Element, level: int) -> str:
    """``element`` written as it would be ``level`` elements deep in a document (to append there)."""
    out: list[str] = []
    element._write(out, "  " * level)
    return "".join(out)


def document(root: Element, namespaces: dict[str, str] | None = None) -> bytes:
    """The UTF-8 document of ``root``, with declaration; ``namespaces`` (prefix -> URI) declared on the root."""
    declared = {f"xmlns:{prefix}": uri for prefix, uri in (namespaces or {}).items()}
    top = Element(root.tag, {**declared, **root.attrib}) if declared else root
    top.children, top.text = root.children, root.text
    out = ["<?xml version='1.0' encoding='UTF-8'?>\n"]
    top._write(out, "")
    return "".join(out).encode("utf-8")
