"""The gateway bound to the meters it may report, and the message bound to the EMP it was signed for."""

from __future__ import annotations

from pathlib import Path

import pytest

from smgwd.demo import EMP_TOML
from smgwd.emp.config import EmpConfigError, load_emp_config
from smgwd.emp.server import EmpServer
from smgwd.emp.service import EmpService, rows_of
from tests.emp.test_emp_identity import sealed_as
from tests.emp.test_emp_service import document, emp, pki, post  # noqa: F401 - fixtures


def meters() -> set[str]:
    return {row.meter for row in rows_of(document())}


@pytest.mark.parametrize(("bound", "status", "kind"), [
    (None, 200, None),  # no [gateways]: any gateway, any meter
    ({"smgw": "own"}, 200, None),
    ({"smgw": frozenset({"*"})}, 200, None),
    ({"smgw": frozenset({"another-meter"})}, 403, "meter_not_bound"),
    ({"other-gateway": "own"}, 403, "unknown_gateway"),
])
def test_a_gateway_reports_only_its_own_meters(emp: tuple[EmpServer, EmpService], pki: Path,  # noqa: F811
                                               bound: dict[str, object] | None, status: int, kind: str | None) -> None:
    server, service = emp
    assert len(meters()) == 1
    if bound is not None:
        service.gateways = {name: (frozenset(meters()) if value == "own" else value)  # type: ignore[misc]
                            for name, value in bound.items()}
    answer = post(server, pki, "m-1", sealed_as(pki, "m-1", 1))
    assert answer.status_code == status, answer.text
    if kind is not None:
        assert answer.json()["error"] == kind and service.counters[kind] == 1
        assert service.store.counts() == (0, 0)
        if kind == "meter_not_bound":
            assert f"gateway smgw may not report meter(s) {next(iter(meters()))}" in answer.json()["reason"]


def test_a_message_signed_for_another_emp_is_refused(emp: tuple[EmpServer, EmpService], pki: Path) -> None:  # noqa: F811
    server, service = emp
    service.name = "billing"
    answer = post(server, pki, "m-1", sealed_as(pki, "m-1", 1))  # signed for EMP "emp"
    assert answer.status_code == 403 and answer.json()["error"] == "not_for_this_emp"
    assert "signed for EMP emp, this is billing" in answer.json()["reason"]
    service.name = "emp"
    assert post(server, pki, "m-1", sealed_as(pki, "m-1", 1)).status_code == 200


def config_with(tmp_path: Path, gateways: str) -> Path:
    path = tmp_path / "emp.toml"
    base = EMP_TOML.format(port=0, meters='"*"').split("[gateways]")[0]
    path.write_text(base + gateways if gateways.startswith("[") else gateways + base)  # a bare key goes on top
    return path


def test_the_config_reads_gateways(tmp_path: Path) -> None:
    config = load_emp_config(config_with(tmp_path, '[gateways]\nsmgw = ["a", "b"]\nsmgw-2 = ["*"]\n'))
    assert config.gateways == {"smgw": frozenset({"a", "b"}), "smgw-2": frozenset({"*"})}
    assert config.name == "emp"
    assert load_emp_config(config_with(tmp_path, "")).gateways is None


@pytest.mark.parametrize(("text", "says"), [
    ('gateways = 3\n', "gateways: expected a table of gateway = [meter ids]"),
    ('[gateways]\nsmgw = "a"\n', "gateways.smgw: expected a list of meter ids"),
    ('[gateways]\nsmgw = ["a", 1]\n', "gateways.smgw: expected a list of meter ids"),
    ('[gateways]\nsmgw = [""]\n', "gateways.smgw: expected a list of meter ids"),
])
def test_a_bad_gateways_table_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(EmpConfigError, match="emp.toml: ") as caught:
        load_emp_config(config_with(tmp_path, text))
    assert says in str(caught.value) and "\n" not in str(caught.value)
