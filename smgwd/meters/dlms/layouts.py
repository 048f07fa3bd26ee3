"""Published push list layouts, as data: what lists without OBIS codes or scalers carry.

How this works: ``layouts.json`` beside this module holds, per list identifier the meter
sends (its first element), either the fields in order (lists without OBIS codes: each
with its OBIS code, scaler and DLMS unit) or the scalers and units of the codes a list
names without them. Each entry names its public source. :data:`LAYOUTS` is read once.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from smgwd.cosem.obis import Obis
from smgwd.meters.dlms.push import Field, ListLayout

__all__ = ["LAYOUTS", "load_layouts"]


def _layout(name: str, entry: dict[str, Any]) -> ListLayout:
    fields = tuple(Field(Obis.parse(f["obis"]), f.get("scaler"), f.get("unit"), f.get("name")) for f in entry.get("fields", ()))
    scalers = {Obis.parse(code): (su[0], su[1]) for code, su in entry.get("scalers", {}).items()}
    return ListLayout(name, fields, scalers)


def load_layouts(text: str) -> dict[str, ListLayout]:
    """Layouts from the JSON text of ``layouts.json`` (list identifier -> layout)."""
    data = json.loads(text)
    return {name: _layout(name, entry) for name, entry in data["layouts"].items()}


LAYOUTS: dict[str, ListLayout] = load_layouts(
    resources.files("smgwd.meters.dlms").joinpath("layouts.json").read_text(encoding="utf-8")
)
