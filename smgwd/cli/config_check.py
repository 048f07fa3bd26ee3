"""``smgwctl config check``: load the gateway configuration the way smgwd does and summarise it.

Beyond what smgwd checks on load, the keys and certificates of every enabled
``[[emps]]`` entry are loaded as delivery loads them: each key must belong to
its certificate and no certificate may have expired
(:mod:`smgwd.wan.credentials`); one that expires within 30 days, or is not
valid yet, is a warning line on stderr.

Exit status 0 with one paragraph on stdout (meters, their links and modes,
the store, the NTP servers), or 78 (EX_CONFIG, as smgwd itself) with the
configuration's one-line error on stderr.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from smgwd.gateway.config import ConfigError, GatewayConfig, MeterConfig, MeterMode, load_config

__all__ = ["run", "summary"]

EXIT_OK = 0
EX_CONFIG = 78


def _meter(meter: MeterConfig) -> str:
    verb = "pulled from" if meter.mode is MeterMode.PULL else "pushing on"
    every = "every" if meter.mode is MeterMode.PULL else "about every"
    details = [meter.protocol.upper(), f"profile {meter.profile.name}", f"CRC {meter.crc.value}"]
    if meter.server_id is not None:
        details.append(f"server id {meter.server_id.hex()}")
    if meter.username is not None:
        details.append(f"user {meter.username}")
    if meter.password_file is not None:
        details.append("password from file")
    state = "" if meter.enabled else " (disabled)"
    return f"{meter.id}{state} {verb} {meter.link} {every} {meter.interval:g} s ({', '.join(details)})"


def summary(config: GatewayConfig) -> str:
    """One paragraph describing ``config`` for an operator."""
    meters = config.meters
    enabled = sum(1 for m in meters if m.enabled)
    if meters:
        listed = "; ".join(_meter(m) for m in meters)
        meter_text = f"{len(meters)} meter{'s' if len(meters) != 1 else ''} ({enabled} enabled): {listed}."
    else:
        meter_text = "no meters."
    store = config.store
    kept = "forever" if store.retention_days == 0 else f"{store.retention_days} days"
    time = config.time
    ntp = (
        f"NTP {', '.join(str(s) for s in time.servers)} every {time.poll_interval:g} s"
        if time.servers
        else "no NTP servers (every reading unsynchronised)"
    )
    text = (
        f"{config.source}: OK. Gateway {config.gateway.id}, {meter_text} "
        f"Store {store.path}, readings kept {kept}; {ntp}; control socket {config.control.socket}; "
        f"logging {config.logging.level}, journal {config.logging.journal}."
    )
    if config.emps:
        text += " Deliveries: " + "; ".join(
            f"{e.id}{'' if e.enabled else ' (disabled)'} every {e.interval:g} s ({e.shape}) to {e.url}"
            for e in config.emps) + "."
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def _check_credentials(config: GatewayConfig) -> list[str]:
    """Warnings about the EMPs' certificates; ConfigError if a key or certificate is not usable."""
    if not config.emps:
        return []
    from smgwd.wan.credentials import CredentialError, check_credentials  # cryptography only when needed

    try:
        return check_credentials(config.emps)
    except CredentialError as error:
        raise ConfigError(config.source, error.key, error.problem) from None


def run(args: argparse.Namespace) -> int:
    """Check the file named by ``args.config``; returns the exit status."""
    try:
        config = load_config(args.config)
        warnings = _check_credentials(config)
    except ConfigError as error:
        print(f"smgwctl: {error}", file=sys.stderr)
        return EX_CONFIG
    for warning in warnings:
        print(f"smgwctl: warning: {config.source}: {warning}", file=sys.stderr)
    print(summary(config))
    return EXIT_OK
