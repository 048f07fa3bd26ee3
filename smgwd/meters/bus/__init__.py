"""The RS-485 LMN bus: smgwd as HDLC primary station for several meters."""
