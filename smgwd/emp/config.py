"""smgw-emp configuration (TOML): where it listens, its certificates and keys, its store.

How this works: a fixed table of sections and keys with their types and
defaults; unknown sections or keys are errors, and every error is one line
naming the file and the key path. Relative paths count from the file's
directory, so a lab directory made by ``smgwctl pki init`` can be moved. The
file is read within the limits of :mod:`smgwd.gateway.config_limits`, like the
gateway's (a regular file of at most 1 MiB, UTF-8, nesting and dotted keys
bounded), and the numbers of ``[server]`` within their ranges.

``[tls] crl`` names the PKI's CRL (``crl.pem`` of a lab PKI): a TLS client
or a CMS signer on it is refused; the file is read at start, so restart the
EMP after publishing a new one.

``[gateways]`` binds each gateway to the meters it may report: a key per
gateway (the participant name of its certificates, ``smgw`` for
``CN=smgw SIG``), its value the list of meter ids, ``"*"`` for any. Without the
section any gateway may report any meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smgwd.gateway.config_limits import LimitError, load_toml

__all__ = ["EmpConfig", "EmpConfigError", "load_emp_config"]

#: section -> key -> (type, default; None: required)
_SCHEMA: dict[str, dict[str, tuple[type, Any]]] = {
    "server": {"host": (str, "127.0.0.1"), "port": (int, 8443), "max_body": (int, 4 * 1024 * 1024),
               "request_deadline": (float, 30.0), "max_connections": (int, 64), "max_per_peer": (int, 8)},
    "tls": {"cert": (Path, None), "key": (Path, None), "client_ca": (Path, None), "crl": (Path, "")},
    "cms": {"cert": (Path, None), "key": (Path, None), "trust": (Path, None), "untrusted": (Path, ""),
            "max_age_days": (float, 31.0), "name": (str, "")},
    "store": {"path": (Path, "emp.db")},
}
_GATEWAYS = "gateways"
_MAX_METERS = 100_000


#: numbers and their ranges (a deadline in seconds, a body in bytes, an age in days)
_RANGES: dict[str, tuple[float, float]] = {
    "server.max_body": (1, 1024 * 1024 * 1024), "server.request_deadline": (0.1, 3600.0),
    "server.max_connections": (1, 10_000), "server.max_per_peer": (1, 10_000), "cms.max_age_days": (0.01, 3650.0),
}


class EmpConfigError(ValueError):
    """One line: file, key path, what is wrong."""


@dataclass(frozen=True, slots=True)
class EmpConfig:
    host: str
    port: int
    max_body: int
    tls_cert: Path
    tls_key: Path
    client_ca: Path
    cms_cert: Path
    cms_key: Path
    trust: Path
    untrusted: Path | None
    store: Path
    request_deadline: float = 30.0
    max_connections: int = 64
    max_per_peer: int = 8
    max_age_days: float = 31.0  # a message created longer ago is refused as stale
    #: the name gateways deliver to (their [[emps]] id, signed in each message); "" = not checked
    name: str = ""
    #: gateway participant name -> the meter ids it may report ("*": any); None: no binding
    gateways: dict[str, frozenset[str]] | None = None
    #: the PKI's CRL: TLS clients and CMS signers on it are refused (None: no revocation check)
    crl: Path | None = None


def _gateways(path: Path, table: object) -> dict[str, frozenset[str]]:
    if not isinstance(table, dict):
        raise EmpConfigError(f"{path}: {_GATEWAYS}: expected a table of gateway = [meter ids]")
    bound: dict[str, frozenset[str]] = {}
    for gateway, meters in table.items():
        where = f"{path}: {_GATEWAYS}.{gateway}"
        if not isinstance(meters, list) or not all(isinstance(m, str) and m for m in meters):
            raise EmpConfigError(f"{where}: expected a list of meter ids (\"*\" for any), got {meters!r}"[:300])
        if len(meters) > _MAX_METERS:
            raise EmpConfigError(f"{where}: {len(meters)} meters, more than {_MAX_METERS}")
        bound[gateway] = frozenset(meters)
    return bound


def load_emp_config(path: str | Path) -> EmpConfig:
    """Read and check an EMP configuration file."""
    path = Path(path)
    try:
        document = load_toml(path)
    except LimitError as error:
        raise EmpConfigError(f"{path}: {error}") from None
    values: dict[str, Any] = {}
    for section in document:
        if section not in _SCHEMA and section != _GATEWAYS:
            raise EmpConfigError(f"{path}: {section}: unknown section "
                                 f"(expected one of {', '.join([*_SCHEMA, _GATEWAYS])})")
    for section, keys in _SCHEMA.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise EmpConfigError(f"{path}: {section}: expected a table")
        for key in table:
            if key not in keys:
                raise EmpConfigError(f"{path}: {section}.{key}: unknown key (expected one of {', '.join(keys)})")
        for key, (kind, default) in keys.items():
            value = table.get(key, default)
            if value is None:
                raise EmpConfigError(f"{path}: {section}.{key}: missing (expected a {kind.__name__})")
            if kind is Path:
                if not isinstance(value, str):
                    raise EmpConfigError(f"{path}: {section}.{key}: expected a path, got {value!r}")
                value = (path.parent / value) if value else None
            elif kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif not isinstance(value, kind) or isinstance(value, bool):
                raise EmpConfigError(f"{path}: {section}.{key}: expected a {kind.__name__}, got {value!r}")
            values[f"{section}.{key}"] = value
    if not 0 <= values["server.port"] < 65536:
        raise EmpConfigError(f"{path}: server.port: {values['server.port']} is not 0..65535")
    for key, (low, high) in _RANGES.items():
        if not low <= values[key] <= high:
            raise EmpConfigError(f"{path}: {key}: {values[key]} is not {low}..{high}")
    return EmpConfig(
        values["server.host"], values["server.port"], values["server.max_body"], values["tls.cert"],
        values["tls.key"], values["tls.client_ca"], values["cms.cert"], values["cms.key"], values["cms.trust"],
        values["cms.untrusted"], values["store.path"], values["server.request_deadline"],
        values["server.max_connections"], values["server.max_per_peer"], values["cms.max_age_days"],
        values["cms.name"], None if _GATEWAYS not in document else _gateways(path, document[_GATEWAYS]),
        values["tls.crl"],
    )
