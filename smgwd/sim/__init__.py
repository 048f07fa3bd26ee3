"""smgw-sim, the meter simulator."""
