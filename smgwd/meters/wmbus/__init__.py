"""Wireless M-Bus meters: telegrams to readings (keys, compact formats, duplicates, OBIS mapping)."""
