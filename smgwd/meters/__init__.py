"""Meter drivers: one per way of talking to a meter; each turns link bytes into Readings."""
