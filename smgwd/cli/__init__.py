"""smgwctl: the operator's command line."""
