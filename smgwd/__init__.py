"""smgwd: an open smart meter gateway daemon (BSI TR-03109 style) for Raspberry Pi-class boards."""

__version__ = "0.1.0"
