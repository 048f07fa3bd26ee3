"""The file system pictures of deploy/deb-smoke-test do not depend on what the machine ran before.

Issue 9, section 8: a /run/smgwd left by an earlier run was in the "before" picture; the test's
own run of the daemon removed it (as systemd removes RuntimeDirectory= on stop), and the
comparison after the purge failed with "gone: /run/smgwd". Here the picture logic runs on a
temporary tree with a temporary runtime directory; nothing outside tmp_path is touched.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import socket
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs dpkg-query (Debian)")


def smoke_test() -> ModuleType:
    """deploy/deb-smoke-test (a script without .py) as a module; its main() is not run."""
    loader = importlib.machinery.SourceFileLoader("deb_smoke_test", str(ROOT / "deploy" / "deb-smoke-test"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def smoke() -> ModuleType:
    return smoke_test()


@pytest.fixture
def machine(tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    """A listed tree with some files, and where the runtime directory goes."""
    tree = tmp_path / "usr"
    (tree / "lib").mkdir(parents=True)
    (tree / "lib" / "file").write_text("x")
    return (str(tree),), tmp_path / "run" / "smgwd"


def service_run(runtime: Path) -> None:
    """What the smoke test does to the runtime directory: created for the daemon, removed on its stop."""
    runtime.mkdir(parents=True, exist_ok=True)
    (runtime / "control.sock").touch()
    shutil.rmtree(runtime)


@pytest.mark.parametrize("leftover", [False, True], ids=["clean machine", "leftover runtime directory"])
def test_pictures_agree_whatever_the_machine_held(smoke: ModuleType, machine: tuple, leftover: bool) -> None:
    tops, runtime = machine
    if leftover:  # an earlier run as root: the directory with a stale socket and a file
        runtime.mkdir(parents=True)
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(runtime / "control.sock"))
        stale.close()
        (runtime / "store.lock").touch()
    removed = smoke.clear_leftovers([str(runtime)])
    assert removed == ([str(runtime)] if leftover else [])
    before = smoke.listing([str(runtime)], tops)
    service_run(runtime)
    after = smoke.listing([str(runtime)], tops)
    assert before == after and str(Path(tops[0]) / "lib" / "file") in before


def test_leftover_in_use_is_refused_and_kept(smoke: ModuleType, machine: tuple) -> None:
    _, runtime = machine
    runtime.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as live:  # a daemon still listening on its control socket
        live.bind(str(runtime / "control.sock"))
        live.listen()
        with pytest.raises(smoke.Failed, match=rf"in use by pid .*\b{os.getpid()}\b"):
            smoke.clear_leftovers([str(runtime)])
    assert (runtime / "control.sock").exists()


def test_runtime_directories_come_from_the_units(smoke: ModuleType) -> None:
    found = {
        name: smoke.unit_directories(smoke.unit_settings(str(ROOT / "systemd" / f"{name}.service")), ("RuntimeDirectory",))
        for name in smoke.UNITS
    }
    assert found == {"smgwd": [("RuntimeDirectory", "/run/smgwd")], "smgw-sim": [], "smgw-emp": []}
