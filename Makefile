# smgwd developer entry points. `make test` and `make demo` work on a fresh Debian 12
# machine: they install what is missing and build their own virtual environment.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all venv host-deps test test-debian demo bench fuzz lint clean deb deb-lint deb-check deb-boot-test

all: test

$(STAMP): pyproject.toml deploy/host-deps.sh
	PYTHON=$(PYTHON) sh deploy/host-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

## host-deps: what the tests need from Debian (python3-venv, a chronyd binary for NTP tests)
host-deps:
	PYTHON=$(PYTHON) sh deploy/host-deps.sh

## test: the whole test suite
test: $(STAMP) host-deps
	$(PY) -m pytest -q

## test-debian: the whole test suite again on Debian 12's /usr/bin/python3 with Debian's python3-*
## packages (the versions smgwd runs with on a Pi); builds .venv-debian (deploy/debian-venv.sh)
DEBIAN_VENV := .venv-debian
$(DEBIAN_VENV)/.installed: pyproject.toml deploy/debian-venv.sh deploy/apt-missing.sh
	VENV=$(DEBIAN_VENV) sh deploy/debian-venv.sh
	touch $@

test-debian: $(DEBIAN_VENV)/.installed host-deps
	$(DEBIAN_VENV)/bin/python -m pytest -q -p no:cacheprovider

## demo: simulator + gateway on loopback for 20 s (live view), then decode real captures
demo: $(STAMP) host-deps
	$(VENV)/bin/smgwd demo --duration 20
	@echo "== EMH eHZ push frame (vzlogger test capture) =="
	$(VENV)/bin/smgwctl decode sml --format table tests/data/sml/emh_ehz_vzlogger.hex
	@echo "== Holley DTZ541 on RS-485: CRC-16/KERMIT, bare valTime =="
	$(VENV)/bin/smgwctl decode sml --format table tests/data/sml/holley_dtz541_rs485_kermit.hex
	@echo "== DZG DVS-7412 with its sign bug fixed by the dzg-dvs74 profile =="
	$(VENV)/bin/smgwctl decode sml --format table --profile dzg-dvs74 tests/data/sml/dzg_dvs7412_signbug.hex

## bench: decoder benchmarks next to the peers (smllib, pysml)
bench: $(STAMP)
	$(PY) -m tests.bench

## lint: static type check (mypy, settings in pyproject.toml)
lint: $(STAMP)
	$(PY) -m mypy smgwd

## fuzz: the long fuzz run (not part of CI)
fuzz: $(STAMP)
	$(PY) -m pytest -q -m fuzz -p no:cacheprovider --hypothesis-show-statistics tests

## deb: the Debian packages python3-smgwd, smgwd, smgw-sim (Architecture: all) into dist/,
## built with debhelper + pybuild from deploy/debian (installs the build tools first)
deb:
	sh deploy/deb-deps.sh
	bash deploy/build-deb.sh

## deb-lint: lintian on the packages; errors and warnings fail (overrides: deploy/debian/*.lintian-overrides)
deb-lint: deb
	lintian --fail-on error,warning --display-info --pedantic --show-overrides dist/smgwd_*_all.changes

## deb-check: deb-lint, then install, run and purge the packages on this machine
## (as root; it changes the system: deploy/deb-smoke-test says what it does)
deb-check: deb-lint
	/usr/bin/python3 deploy/deb-smoke-test dist

## deb-boot-test: the units under a real systemd with their sandbox, in a container booted from
## an overlay of this machine (as root; this machine keeps its state: deploy/deb-boot-test)
deb-boot-test: deb
	bash deploy/deb-boot-test dist

clean:
	rm -rf $(VENV) $(DEBIAN_VENV) build dist *.egg-info .pytest_cache .hypothesis
