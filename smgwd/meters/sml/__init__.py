"""SML meter drivers: push (a meter that sends by itself) and pull (jOSEF's request/response), with their profiles."""
