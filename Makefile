# Two entry points for a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
VEO := $(VENV)/bin/veo
HOST ?= 127.0.0.1
PORT ?= 8000
# The address people and agents use; links, the join page and cookies are built from it.
VEO_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: export VEO_PUBLIC_URL := $(VEO_PUBLIC_URL)
SYSTEM_PACKAGES := xvfb chromium xdotool x11-utils x11-xserver-utils python3-tk iproute2 xauth x11vnc novnc websockify xclip firefox-esr coturn
# TigerVNC's scraping server (x0vncserver, its X0tigervnc), one of `veo bench stream`'s VNC references.
SYSTEM_PACKAGES += tigervnc-scraping-server
# The Wayland desktop of veo.bench.wayland (tests/e2e/test_wayland.py): compositor, portals, PipeWire,
# the accessibility bus its dialog is answered through, GStreamer (the agent's pipewiresrc capture and
# the screenshots' gst-launch + pngenc), GTK 3 for the test application, and what building PyGObject needs.
SYSTEM_PACKAGES += dbus mutter xwayland pipewire pipewire-bin wireplumber xdg-desktop-portal xdg-desktop-portal-gnome \
  at-spi2-core gstreamer1.0-pipewire gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-tools \
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-gi gir1.2-gtk-3.0 libgirepository1.0-dev libcairo2-dev pkg-config
# The wlroots desktop of veo.bench.wayland_sway (ScreenCast without RemoteDesktop: view only);
# wtype is the user's keyboard there (tests/e2e/test_wayland_sway.py).
SYSTEM_PACKAGES += sway xdg-desktop-portal-wlr wtype
# rpmbuild and rpm: the .rpm for managed desktops (veo.server.downloads.rpm, tests/packaging/test_rpm.py).
SYSTEM_PACKAGES += rpm
# Several veo nodes behind a load balancer (tests/multinode): HAProxy runs deploy/haproxy/haproxy.cfg,
# and a redis-server of the test's own is killed and restarted mid-session.
SYSTEM_PACKAGES += haproxy redis-server
# What `make agent` bundles from the system or builds against (packaging/agent/veo-agent.spec): Tk, the
# GStreamer and PipeWire client pieces for Wayland, what building PyGObject needs, the Debian notices of
# what it bundles (python3-gi's among them), readelf for the glibc floor, libyuv (the colour conversion
# of pictures at the screen's size, veo.agent.libyuv). An operator's `make agent` installs only these,
# not the test desktops above.
AGENT_BUILD_PACKAGES := python3-tk tk8.6 pipewire gstreamer1.0-pipewire gstreamer1.0-plugins-base gir1.2-gstreamer-1.0 \
  python3-gi libgirepository1.0-dev libcairo2-dev pkg-config binutils libyuv0
SYSTEM_PACKAGES += $(AGENT_BUILD_PACKAGES)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck unit e2e bench bench-smoke install install-test install-check system-packages agent-packages i18n screenshots clean agent agent-build

$(VENV)/.installed-server: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt -e '.[server,agent]'
	touch $@

# The wayland extra builds PyGObject against the system's libgirepository1.0-dev and libcairo2-dev.
$(VENV)/.installed-test: $(VENV)/.installed-server
	$(PIP) install -q -c constraints.txt -e '.[server,agent,test,wayland]'
	touch $@

install: $(VENV)/.installed-server

install-test: $(VENV)/.installed-test

## Start a server on http://$(HOST):$(PORT) with the embedded SQLite database under ./var.
run: install
	$(VEO) admin init
	@echo
	@echo "  Sign in at $(VEO_PUBLIC_URL)/login"
	@echo "  Users get the agent at $(VEO_PUBLIC_URL)/download once it is built (once, about 2 minutes):"
	@echo "    make agent"
	@echo "  or, on a computer with veo installed:"
	@echo "    $(VEO) agent --server $(VEO_PUBLIC_URL)"
	@echo "  Try it with sample data (months of tickets for the reports), in another terminal:"
	@echo "    $(VEO) admin sample-data"
	@echo
	$(VEO) server --host $(HOST) --port $(PORT)

## Install system packages the end-to-end tests need (Xvfb, Chromium, firefox-esr, xdotool, Tk, coturn,
## and the headless GNOME Wayland desktop: mutter, the portals, PipeWire, GStreamer, GTK).
## The TURN test starts its own `turnserver` from deploy/turnserver.conf. Debian's coturn package
## enables a systemd service that runs Debian's default /etc/turnserver.conf, which has no
## authentication (an open relay on every interface): when this target installs coturn on a
## machine booted with systemd, it stops and disables that service again.
system-packages: PACKAGES = $(SYSTEM_PACKAGES)
agent-packages: PACKAGES = $(AGENT_BUILD_PACKAGES)
system-packages agent-packages:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  case " $$missing " in *" coturn "*) \
	    if [ -d /run/systemd/system ]; then \
	      $$SUDO systemctl disable --now coturn >/dev/null 2>&1 && echo "coturn's own service stopped and disabled (the tests start their own)"; \
	    fi;; \
	  esac; \
	  case " $$missing " in *" haproxy "*) \
	    if [ -d /run/systemd/system ]; then \
	      $$SUDO systemctl disable --now haproxy >/dev/null 2>&1 && echo "haproxy's own service stopped and disabled (the tests start their own)"; \
	    fi;; \
	  esac; \
	fi

## Each extra on its own, in a fresh venv, installed as a user does (`pip install -c constraints.txt
## '.[server]'`, then '.[agent]'): the server must start and answer /readyz, every agent module must
## import and `veo agent --help` work. The development venv holds every extra at once and would hide
## a runtime import that only the test extra provides. Venvs are rebuilt each run (pip's cache keeps
## it to about a minute) under $(INSTALL_CHECK_DIR), which `make clean` removes.
INSTALL_CHECK_DIR := build/install-check
install-check:
	$(PYTHON) tests/install_check.py --build-dir $(INSTALL_CHECK_DIR)

## The one-file agent for Linux x86_64 (docs/agent-build.md): PyInstaller in a build venv holding only
## the agent and build extras, cached under ${VEO_BUILD_CACHE:-${XDG_CACHE_HOME:-~/.cache}/veo-build}
## by a hash of what goes in (a hit takes seconds), into dist/agent/veo-agent-linux-x86_64 + its .json
## manifest; `make agent` then puts it where the server hands it out (`veo admin agent add`).
AGENT_FILE := dist/agent/veo-agent-linux-x86_64
agent-build: install agent-packages
	$(PY) packaging/build_agent.py

agent: agent-build
	$(VEO) admin agent add $(AGENT_FILE)

lint: install-test
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: install-test
	$(VENV)/bin/mypy

## The whole suite: each extra installed alone, lint, types, the one-file agent built (cached; its
## contents checked by tests/packaging, the end-to-end phase runs a session with it), unit,
## integration (SQLite and PostgreSQL), end to end.
## The end-to-end tests (tests/e2e, and tests/multinode: three nodes behind HAProxy) run in their own
## pytest processes: their Playwright (sync API) keeps an
## event loop running on the main thread for the whole session, which asyncio tests cannot share.
## Unit and integration (about 3,200 tests: 23 minutes one after the other on the 2-core CI machine;
## 10.5 minutes in two workers on the 2-core development machine, shared and loaded, 2026-12-07)
## run in $(TEST_WORKERS) pytest-xdist workers, a whole test file per worker at a time (--dist
## loadfile: a module's fixtures, its Chromium among them, are made once); tests/conftest.py gives
## each worker its own PostgreSQL database and Redis database. tests/packaging runs alone after them
## (47 s with the build cached): its tests publish and read the one-file agent in dist/agent.
## (--dist loadgroup would let a folder be one group, but pytest-xdist 3.8 cannot tag pytest 9.2's
## node ids: it runs as plain load.) The end-to-end phases stay one process each: one of their
## tests (Chromium decoding, the agent encoding, Xvfb, the server) already keeps both cores busy
## against real-time deadlines, which a second test at once would make them miss.
## pytest's exit code 5 (no test collected) counts as a failure. run_phase: (1) what, (2) options.
## --durations=20: each phase ends with its slowest tests, so a CI log shows where the minutes go.
TEST_WORKERS ?= 2
PYTEST_PHASE = $(PY) -m pytest -p no:cacheprovider --durations=20
define run_phase
	$(PYTEST_PHASE) $(2) $(1); rc=$$?; if [ $$rc = 5 ]; then echo "pytest collected no tests in $(1): failing"; exit 1; fi; exit $$rc
endef

test: system-packages install-check install-test lint typecheck agent-build
	$(call run_phase,tests --ignore=tests/e2e --ignore=tests/multinode --ignore=tests/packaging,-n $(TEST_WORKERS) --dist loadfile)
	$(call run_phase,tests/packaging)
	$(call run_phase,tests/e2e)
	$(call run_phase,tests/multinode)
	$(MAKE) --no-print-directory bench-smoke

## `veo bench stream --smoke`: one short typing workload over the real pipeline, figures printed,
## never asserted; it fails only if the bench crashes or measures nothing (so it cannot rot).
## `veo bench signaling` small (one node, 50 idle agents, 10 set-ups, 20 managed devices, ~35 s): the same promise.
bench-smoke: system-packages install-test
	$(PY) -m veo bench stream --smoke
	$(PY) -m veo bench signaling --nodes 1 --agents 50 --setups 10 --devices 20 --duration 5

## `make bench` from a clean checkout: installs what it needs, then `veo bench stream` (quick mode,
## about 15 minutes) writing var/bench-stream.json and var/bench-stream.png; BENCH_ARGS=--full etc.
BENCH_ARGS ?=
bench: system-packages install-test
	mkdir -p var
	$(PY) -m veo bench stream --json var/bench-stream.json --chart var/bench-stream.png $(BENCH_ARGS)

unit: install-test
	$(PY) -m pytest tests/unit

e2e: system-packages install-test
	$(PY) -m pytest tests/e2e

## docs/screenshots/: what technicians and users see, in English and Spanish, at 1366x768 and 1920x1080:
## the ticket page and sign-in steps, the console at every stage, the agent's consent dialog.
## Each comes from the browser or Tk test that checks that screen, so the pictures are of what is tested.
SHOTS := $(CURDIR)/docs/screenshots
screenshots: system-packages install-test
	rm -f $(SHOTS)/*.png && mkdir -p $(SHOTS)
	VEO_SCREENSHOTS=$(SHOTS) $(PYTEST_PHASE) -q tests/integration/test_ticket_pages_browser.py
	VEO_CONSOLE_SHOTS=$(SHOTS) $(PYTEST_PHASE) -q tests/integration/test_console_layout.py
	VEO_SCREENSHOTS=$(SHOTS) $(PYTEST_PHASE) -q tests/integration/test_downloads_browser.py
	$(PY) -m tests.integration.agent_screens $(SHOTS)

## Re-extract and compile the Spanish and English message catalogs.
i18n: install-test
	$(VENV)/bin/pybabel extract -F babel.cfg -o src/veo/locales/veo.pot --project veo .
	$(VENV)/bin/pybabel update -i src/veo/locales/veo.pot -d src/veo/locales -D veo --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d src/veo/locales -D veo

clean:
	rm -rf $(VENV) var build dist .pytest_cache .mypy_cache .ruff_cache
