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
    path.write_text(EMP_TOML.format(port=0).replace("[tls]", extra + "\n[tls]"))
    return path


def test_defaults_when_absent(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    config = load_emp_config(config_file(tmp_path, pki))
    assert (config.request_deadline, config.max_connections, config.max_per_peer) == (30.0, 64, 8)


def test_limits_reach_the_server(tmp_path: Path, pki: Path) -> None:  # noqa: F811
    path = config_file(tmp_path, pki, "request_deadline = 5\nmax_connections = 10\nmax_per_peer = 2\n")
    service, server = open_emp(load_emp_config(path))
    try:
        assert server.request_deadline == 5.0
        assert (server.admission.total, server.admission.per_peer) == (10, 2)
    finally:
        server.server_close()
        service.store.close()


@pytest.mark.parametrize(("line", "message"), [
    ("request_deadline = 0", "server.request_deadline: 0.0 is not > 0"),
    ("request_deadline = 'soon'", "server.request_deadline: expected a float, got 'soon'"),
    ("max_connections = -1", "server.max_connections: -1 is not > 0"),
    ("max_per_peer = true", "server.max_per_peer: expected a int, got True"),
])
def test_bad_limit_is_one_line(tmp_path: Path, pki: Path, line: str, message: str) -> None:  # noqa: F811
    with pytest.raises(EmpConfigError) as error:
        load_emp_config(config_file(tmp_path, pki, line))
    assert str(error.value).endswith(message) and "\n" not in str(error.value)
