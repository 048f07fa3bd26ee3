"""The COSEM model: OBIS codes, DLMS units and types, interface classes, COSEM/XML.

Knows nothing of wires; codecs and meter drivers map what they read onto it.
The XML encodings live in :mod:`smgwd.cosem.xml_josef` and :mod:`smgwd.cosem.xml_k461`.
"""

from smgwd.cosem.classes import (CaptureObject, Clock, CosemObject, Data, ExtendedRegister,
                                 LogicalDevice, ProfileGeneric, Register)
from smgwd.cosem.datatypes import NULL, DataType, DlmsValue
from smgwd.cosem.errors import CosemError
from smgwd.cosem.obis import Obis, ObisError, describe
from smgwd.cosem.units import unit_code, unit_symbol

__all__ = [
    "NULL", "CaptureObject", "Clock", "CosemError", "CosemObject", "Data", "DataType",
    "DlmsValue", "ExtendedRegister", "LogicalDevice", "Obis", "ObisError", "ProfileGeneric",
    "Register", "describe", "unit_code", "unit_symbol",
]
