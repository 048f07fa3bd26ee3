"""Published push list layouts, as data: what lists without OBIS codes or scalers carry.

How this works: ``layouts.json`` beside this module holds the layouts, each with its public
source: either the fields in order (lists without OBIS codes: OBIS code, scaler and DLMS
unit per position) or the scalers and units of the values a list names without them (keyed
by the full OBIS code, or by ``C.D`` for every code of that quantity). Layouts form
families (one meter type's lists): a meter configured with a family gets the member that
matches the push's list identifier and element count; without configuration only members
marked ``auto`` are picked, by list identifier and count — never a guess where two
published tables share an identifier (Kamstrup's Norwegian and Swedish energies).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, NamedTuple

from smgwd.cosem.obis import Obis
from smgwd.meters.dlms.push import Field, ListLayout

__all__ = ["LAYOUTS", "Layouts", "load_layouts"]


class _Entry(NamedTuple):
    layout: ListLayout
    family: str
    list_id: str | None
    elements: int | None
    auto: bool

    def matches(self, list_id: str | None, count: int) -> bool:
        return (self.list_id is None or self.list_id == list_id) and (self.elements is None or self.elements == count)


def _key(text: str) -> Obis | tuple[int, int]:
    if text.count(".") == 1 and ":" not in text:
        c, d = text.split(".")
        return int(c), int(d)
    return Obis.parse(text)


def _layout(entry: dict[str, Any]) -> ListLayout:
    fields = tuple(Field(Obis.parse(f["obis"]) if f.get("obis") else None, f.get("scaler"), f.get("unit"), f.get("name"))
                   for f in entry.get("fields", ()))
    scalers = {_key(code): (su[0], su[1]) for code, su in entry.get("scalers", {}).items()}
    return ListLayout(entry["name"], fields, scalers)


class Layouts:
    """The layouts by name and by family."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = [
            _Entry(_layout(e), e.get("family", e["name"]), e.get("list_id"), e.get("count"), bool(e.get("auto", False)))
            for e in entries
        ]
        self.by_name = {e.layout.name: e.layout for e in self._entries}
        self.families = sorted({e.family for e in self._entries})

    def __contains__(self, name: object) -> bool:
        return name in self.by_name or name in self.families

    def names(self) -> list[str]:
        return sorted({*self.by_name, *self.families})

    def pick(self, configured: str | None, list_id: str | None, count: int) -> ListLayout | None:
        """The layout for a push: the configured layout or family member, else an ``auto`` match."""
        if configured is not None and configured in self.by_name and configured not in self.families:
            return self.by_name[configured]
        for entry in self._entries:
            chosen = entry.family == configured if configured is not None else entry.auto
            if chosen and entry.matches(list_id, count):
                return entry.layout
        return None


def load_layouts(text: str) -> Layouts:
    """Layouts from the JSON text of ``layouts.json``."""
    return Layouts(json.loads(text)["layouts"])


LAYOUTS: Layouts = load_layouts(resources.files("smgwd.meters.dlms").joinpath("layouts.json").read_text(encoding="utf-8"))
