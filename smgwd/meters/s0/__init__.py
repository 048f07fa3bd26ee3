"""S0 pulse inputs (DIN EN 62053-31) on GPIO pins."""
