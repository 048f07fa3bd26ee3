"""Load profiles for smgw-sim: BDEW standard load profiles and a PV feed-in profile.

Public names come from :mod:`.slp` (BDEW tables), :mod:`.pv` (PV feed-in),
:mod:`.calendar` (holidays, seasons, day types) and :mod:`.cli` (``smgw-sim profile``).
"""
