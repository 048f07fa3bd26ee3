"""Static checks of the Debian packaging (deploy/debian) and the systemd units (systemd/).

Fast and without building anything: the packaging stays in step with the code (versions, entry
points, the shipped configurations, the unit's paths and users). `make deb-check` builds,
lints, installs, runs and purges the real packages; deploy/deb-smoke-test says how.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from smgwd.emp.config import load_emp_config
from smgwd.gateway.config import load_config
from smgwd.links.tcp import TcpLink
from smgwd.sim.config import load_config as load_sim_config
from smgwd.wan.pki import init_pki

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "deploy" / "debian"
UNITS = ROOT / "systemd"
PACKAGED_UNITS = {name: UNITS / f"{name}.service" for name in ("smgwd", "smgw-sim", "smgw-emp")}
SERIAL_UNITS = ("smgwd", "smgw-sim")  # the ones that open serial ports


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value assigned (systemd allows repeats)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return sections


def install_lines(package: str) -> list[list[str]]:
    return [line.split() for line in (DEBIAN / f"{package}.install").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_changelog_version_is_the_project_version() -> None:
    first = (DEBIAN / "changelog").read_text().splitlines()[0]
    match = re.match(r"smgwd \(([^)]+)\) ", first)
    assert match, first
    assert re.fullmatch(re.escape(pyproject()["project"]["version"]) + r"([-+~].*)?", match.group(1)), (
        f"deploy/debian/changelog is at {match.group(1)}, pyproject.toml at {pyproject()['project']['version']}"
    )


def test_every_program_is_packaged_or_declared_not_installed() -> None:
    installed = {Path(words[0]).name for package in PACKAGED_UNITS
                 for words in install_lines(package) if words[0].startswith("usr/bin/")}
    listed = DEBIAN / "not-installed"
    lines = listed.read_text().splitlines() if listed.exists() else []
    not_installed = {Path(line).name for line in lines if line.strip() and not line.startswith("#")}
    scripts = set(pyproject()["project"]["scripts"])
    assert installed | not_installed == scripts
    assert not installed & not_installed


def test_every_packaged_program_has_a_man_page() -> None:
    for package in PACKAGED_UNITS:
        programs = {Path(words[0]).name for words in install_lines(package) if words[0].startswith("usr/bin/")}
        pages = {Path(line.strip()).stem for line in (DEBIAN / f"{package}.manpages").read_text().splitlines()
                 if line.strip()}
        assert programs == pages, package


def test_units_are_installed_by_their_packages() -> None:
    for package, path in PACKAGED_UNITS.items():
        assert [f"systemd/{path.name}", "lib/systemd/system"] in install_lines(package)


def test_units_run_the_packaged_programs_with_the_packaged_configurations() -> None:
    rules = (DEBIAN / "rules").read_text()
    for package, path in PACKAGED_UNITS.items():
        service = unit(path)["Service"]
        argv = service["ExecStart"][-1].split()
        assert argv[0] == f"/usr/bin/{package}"
        assert [f"usr/bin/{package}"] in install_lines(package)
        config = argv[argv.index("--config") + 1]
        assert f"debian/{package}{config}" in rules, f"{config} is not installed by debian/rules"
        assert config.startswith(f"/etc/{service['ConfigurationDirectory'][-1]}/")


def test_units_users_come_from_sysusers_with_dialout_only_where_serial_ports_are_used() -> None:
    for package, path in PACKAGED_UNITS.items():
        service = unit(path)["Service"]
        sysusers = [line.split() for line in (DEBIAN / f"{package}.sysusers").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
        user = service["User"][-1]
        assert ["u", user] == sysusers[0][:2]
        assert service["Group"] == service["User"]
        assert "DynamicUser" not in service
        if package in SERIAL_UNITS:
            assert ["m", user, "dialout"] in sysusers
            # A group missing on the machine fails the start (216/GROUP): gpio exists only on Pi OS.
            assert service["SupplementaryGroups"] == ["dialout"]
        else:
            assert not [line for line in sysusers if line[0] == "m"]
            assert "SupplementaryGroups" not in service
            assert service["PrivateDevices"] == ["yes"]


def test_smgwd_unit_is_a_notify_service_with_watchdog_restart_limits_and_directories() -> None:
    sections = unit(PACKAGED_UNITS["smgwd"])
    service = sections["Service"]
    assert service["Type"] == ["notify"]
    assert int(service["WatchdogSec"][-1]) >= 10
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["78"]
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= set(sections["Unit"])
    for key in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory", "LogsDirectory"):
        assert service[key] == ["smgwd"], key
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # The daemon stops within 5 s (smgwd.daemon.STOP_TIMEOUT); systemd waits a little longer.
    assert 5 < int(service["TimeoutStopSec"][-1]) <= 30


def test_serial_ports_stay_reachable() -> None:
    """No device ACL or private /dev: serial adapters and GPIO are reached by group permissions."""
    for name in SERIAL_UNITS:
        service = unit(PACKAGED_UNITS[name])["Service"]
        assert service.get("PrivateDevices", ["no"]) == ["no"]
        assert "DevicePolicy" not in service and "DeviceAllow" not in service
        assert "PrivateUsers" not in service  # would map dialout to nobody


def test_example_configurations_pair_up_out_of_the_box() -> None:
    """The shipped smgwd.toml reads the shipped simulator's meter: install both, enable both."""
    gateway = load_config(ROOT / "smgwd" / "gateway" / "smgwd.example.toml")
    simulator = load_sim_config(DEBIAN / "simulator.xml")
    household = next(meter for meter in gateway.meters if meter.id == "household")
    listener = simulator.tcp[0]
    assert isinstance(household.link, TcpLink)
    assert (household.link.host, household.link.port) == (listener.host, listener.port)
    assert household.server_id == simulator.meters[0].server_id


def test_udev_rules_parse() -> None:
    pair = r'(?:[A-Z_]+(?:\{[^}]+\})?)\s*(?:==|!=|=|\+=|-=|:=)\s*"[^"]*"'
    line_re = re.compile(rf"{pair}(?:\s*,\s*{pair})*\s*")
    labels, gotos = set(), set()
    for raw in (DEBIAN / "smgwd.udev").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert line_re.fullmatch(line), line
        labels.update(re.findall(r'LABEL="([^"]+)"', line))
        gotos.update(re.findall(r'GOTO="([^"]+)"', line))
        assert 'MODE="0666"' not in line
    assert gotos <= labels


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("name", sorted(PACKAGED_UNITS))
def test_unit_security_exposure_at_most_2(name: str) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(PACKAGED_UNITS[name])],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


def test_packaged_emp_configuration_names_the_lab_pki_layout(tmp_path: Path) -> None:
    """The shipped emp.toml loads and points at files `smgwctl pki init` makes."""
    config = load_emp_config(DEBIAN / "emp.toml")
    assert config.store == Path("/var/lib/smgw-emp/emp.db")
    pki = DEBIAN / "pki"
    for path in (config.tls_cert, config.tls_key, config.client_ca, config.cms_cert, config.cms_key,
                 config.trust, config.untrusted):
        assert path is not None and path.is_relative_to(pki), path
    init_pki(tmp_path)  # what `smgwctl pki init` writes
    for path in (config.tls_cert, config.tls_key, config.client_ca, config.cms_cert, config.cms_key,
                 config.trust, config.untrusted):
        assert path is not None and (tmp_path / path.relative_to(pki)).is_file(), path
