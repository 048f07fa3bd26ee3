"""Run every benchmark: ``python -m tests.bench`` (or some: ``python -m tests.bench sim daemon``)."""

import sys

from tests.bench import bus, cms, daemon, decode_cli, delivery, dlms, mbus_records, sim_push, sml_decode, store_ingest, taf7, wmbus

BENCHMARKS = {
    "sml": sml_decode.main,
    "decode": decode_cli.main,
    "mbus": mbus_records.main,
    "wmbus": wmbus.main,
    "dlms": dlms.main,
    "bus": bus.main,
    "sim": sim_push.main,
    "store": store_ingest.main,
    "daemon": daemon.main,
    "cms": cms.main,
    "delivery": delivery.main,
    "taf7": taf7.main,
}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
