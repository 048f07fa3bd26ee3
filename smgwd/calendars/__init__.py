"""Calendars shared across the layers: German holidays, local periods, time-of-use tariff calendars.

Pure time arithmetic with no I/O, below the gateway core like :mod:`smgwd.reading`:
the simulator's load profiles, the configuration (which checks tariff calendars on
load) and the tariff use cases (:mod:`smgwd.taf`) all use them.
"""
