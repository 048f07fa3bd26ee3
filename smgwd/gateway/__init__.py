"""Gateway core: the SQLite store, the NTP timebase, the scheduler, the TR-03109 logs."""
