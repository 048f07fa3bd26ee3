"""smgw-emp, the lab EMP endpoint."""
