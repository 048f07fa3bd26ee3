"""DLMS/COSEM push meters: HDLC (or M-Bus) frames to readings."""
