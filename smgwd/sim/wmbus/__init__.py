"""Wireless M-Bus in the simulator: OMS meters on the air and emulated USB sticks."""
