"""smgw-emp's optional [server] limits: defaults when absent, taken from the file and handed to the
server by open_emp, and a bad value is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from smgwd.demo import EMP_TOML
from smgwd.emp.config import EmpConfigError, load_emp_config
from smgwd.emp.main import open_emp
from tests.emp.test_emp_service import pki  # noqa: F401 - fixture


def config_file(tmp_path: Path, pki: Path, extra: str = "") -> Path:  # noqa: F811
    (tmp_path / "pki").symlink_to(pki / "lab")
    path = tmp_path / "emp.toml"
    path.write_text(EMP_TOML.format(port=0, meters="\"*\"").replace("[tls]", extra + "\n[tls]"))
    return path


def test_defaults_when_absent(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    config = load_emp_config(config_file(tmp_path, pki))
    assert (config.request_deadline, config.max_connections, config.max_per_peer) == (30.0, 64, 8)


def test_limits_reach_the_server(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    path = config_file(tmp_path, pki, "request_deadline = 5\nmax_connections = 10\nmax_per_peer = 2\n"
                                      "max_body = 1000\n")
    service, server = open_emp(load_emp_config(path))
    try:
        assert server.request_deadline == 5.0
        assert (server.admission.total, server.admission.per_peer) == (10, 2)
        assert service.max_body == 1000  # it was read, and then ignored: the default 4 MiB held
    finally:
        server.server_close()
        service.store.close()


@pytest.mark.parametrize(("line", "message"), [
    ("request_deadline = 0", "server.request_deadline: 0.0 is not 0.1..3600.0"),
    ("request_deadline = 'soon'", "server.request_deadline: expected a float, got 'soon'"),
    ("max_connections = -1", "server.max_connections: -1 is not 1..10000"),
    ("max_per_peer = true", "server.max_per_peer: expected a int, got True"),
    ("max_body = -1", "server.max_body: -1 is not 1..1073741824"),
    ("max_body = 0", "server.max_body: 0 is not 1..1073741824"),
])
def test_bad_limit_is_one_line(tmp_path: Path, pki: Path, line: str, message: str) -> None:  # noqa: F811
    with pytest.raises(EmpConfigError) as error:
        load_emp_config(config_file(tmp_path, pki, line))
    assert str(error.value).endswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize(("content", "message"), [
    (b"[server]\nport = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "arrays or inline tables nested more than 32 deep"),
    (b"[server]\n" + b".".join([b"a"] * 40_000) + b" = 1\n", "a dotted key of more than 16 parts"),
    (b"# " + b"x" * (1024 * 1024 + 1) + b"\n", "bytes, more than 1048576"),
    (b"[server]\nhost = '\xff'\n", "line 2: not UTF-8 text"),
    (b"[server\n", "line 1, column 8: expected ']' at the end of a table declaration"),
])
def test_hostile_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    """The EMP's loader applies the gateway's file limits: bounded work and one line, never a traceback."""
    path = tmp_path / "emp.toml"
    path.write_bytes(content)
    with pytest.raises(EmpConfigError) as error:
        load_emp_config(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(str(path))


@pytest.mark.parametrize("special", ["/dev/zero", "directory"])
def test_not_a_regular_file_is_refused_unopened(tmp_path: Path, special: str) -> None:
    path = tmp_path if special == "directory" else Path(special)
    with pytest.raises(EmpConfigError) as error:
        load_emp_config(path)
    assert "not a regular file" in str(error.value)
