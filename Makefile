# podpipe — the two commands: `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= config/podpipe.json
BIN = .build/debug

.PHONY: all deps test-deps build release demo test format lint clean bench install install-release check-units

# Installation (see doc/operations.md). `make install PREFIX=/usr/local DESTDIR=` puts:
#   $(PREFIX)/libexec/podpipe/  podpiped, podpipectl and the SwiftPM resource bundles
#                               (podpipe_PodpipeCore.resources: the SQL), which must sit
#                               next to the binaries: Bundle.module looks for them there
#   $(PREFIX)/bin/              symlinks to the two binaries
#   $(UNITDIR)/                 podpiped.service, podpiped-once.service, podpiped.timer
#   $(SYSCONFDIR)/podpipe/      podpipe.json (never overwritten)
#   $(DOCDIR)/                  operations.md, crontab.example
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/podpipe
DOCDIR = $(PREFIX)/share/doc/podpipe
# The build installed: release with the Swift runtime linked in, so that the host needs no
# Swift toolchain (only libsqlite3, libsystemd and zlib).
INSTALL_BUILD_FLAGS ?= -c release --static-swift-stdlib
UNITS = podpiped.service podpiped-once.service podpiped.timer

all: build

# The Debian packages a build (deps) and the tests (test-deps) need, installed when missing
# (scripts/install-deps.sh: as root; otherwise it says what to install).
deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	$(SWIFT) build

release:
	$(SWIFT) build -c release

# Builds, ingests the repository's sample (data_load/) into var/podpipe.sqlite, and prints
# the status and the three answers. git does not keep modification times, and podpiped
# processes files oldest first: data_load/.mtimes restores the intended order.
demo: build
	@mkdir -p var
	@while read -r ts name; do touch -d "@$$ts" "data_load/$$name"; done < data_load/.mtimes
	$(BIN)/podpiped --config $(CONFIG) --once
	@echo; echo "== podpipectl status"; $(BIN)/podpipectl --config $(CONFIG) status || true
	@echo; echo "== Q1 top completed episodes, last 7 days"; $(BIN)/podpipectl --config $(CONFIG) report top-episodes
	@echo; echo "== Q2 average listen-through rate by country"; $(BIN)/podpipectl --config $(CONFIG) report listen-through
	@echo; echo "== Q3 users with 3+ distinct episodes on one UTC day"; $(BIN)/podpipectl --config $(CONFIG) report multi-episode-users

# Unit and integration tests (the integration tests run the real binaries), and the
# systemd unit checks.
test: test-deps
	$(SWIFT) build
	$(MAKE) --no-print-directory check-units UNIT_BINDIR="$$($(SWIFT) build --show-bin-path)"
	$(SWIFT) test

# The systemd units: `systemd-analyze verify` clean (stderr too) and the services' security
# exposure 2.0 or better. Rendered with UNIT_BINDIR (verify wants ExecStart= to exist).
UNIT_BINDIR ?= $(BINDIR)
check-units:
	deploy/check-units.sh "$(UNIT_BINDIR)" "$(SYSCONFDIR)"

# Builds the release binaries (runtime linked in) and installs them with their resource
# bundles, the systemd units, the configuration example and the docs.
install-release:
	$(SWIFT) build $(INSTALL_BUILD_FLAGS)

install: install-release
	@bin=$$($(SWIFT) build $(INSTALL_BUILD_FLAGS) --show-bin-path) && \
	install -d "$(DESTDIR)$(LIBEXECDIR)" "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(UNITDIR)" \
	  "$(DESTDIR)$(SYSCONFDIR)/podpipe" "$(DESTDIR)$(DOCDIR)" && \
	install -m 0755 "$$bin/podpiped" "$$bin/podpipectl" "$(DESTDIR)$(LIBEXECDIR)/" && \
	for bundle in "$$bin"/*.resources; do \
	  [ -d "$$bundle" ] || continue; \
	  rm -rf "$(DESTDIR)$(LIBEXECDIR)/$$(basename "$$bundle")"; \
	  cp -R "$$bundle" "$(DESTDIR)$(LIBEXECDIR)/"; \
	  chmod -R u=rwX,go=rX "$(DESTDIR)$(LIBEXECDIR)/$$(basename "$$bundle")"; \
	done && \
	test -d "$(DESTDIR)$(LIBEXECDIR)/podpipe_PodpipeCore.resources" && \
	ln -sf ../libexec/podpipe/podpiped "$(DESTDIR)$(BINDIR)/podpiped" && \
	ln -sf ../libexec/podpipe/podpipectl "$(DESTDIR)$(BINDIR)/podpipectl" && \
	for unit in $(UNITS); do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/$$unit > "$(DESTDIR)$(UNITDIR)/$$unit"; \
	  chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit"; \
	done && \
	if [ -e "$(DESTDIR)$(SYSCONFDIR)/podpipe/podpipe.json" ]; then \
	  echo "keeping $(DESTDIR)$(SYSCONFDIR)/podpipe/podpipe.json (the new example is podpipe.json.example)"; \
	  install -m 0644 deploy/podpipe.json "$(DESTDIR)$(SYSCONFDIR)/podpipe/podpipe.json.example"; \
	else install -m 0644 deploy/podpipe.json "$(DESTDIR)$(SYSCONFDIR)/podpipe/podpipe.json"; fi && \
	install -m 0644 doc/operations.md deploy/crontab.example "$(DESTDIR)$(DOCDIR)/" && \
	echo "installed under $(DESTDIR)$(PREFIX); next: doc/operations.md (user, folders, systemctl)"

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

clean:
	rm -rf .build var

# Benchmarks against a plain DuckDB script (issue 5); not part of `make test`.
# BENCH_10M=1 and BENCH_1GB=1 add the large cases; RUNS=N sets the repetitions.
bench:
	scripts/bench.sh

# Reliability (doc/reliability.md): the long crash test (>= 60 kill -9 at random moments and
# >= 6 at each PODPIPE_CRASH_AT point over 300,000 events; KILLS, FORCED, EVENTS, FILES,
# REFERENCE_UPDATES, SEED override) and the libFuzzer targets (FUZZ_SECONDS per target).
FUZZ_SECONDS ?= 600
.PHONY: crash-test fuzz
crash-test:
	scripts/crash-test.sh

fuzz:
	Fuzz/run.sh run $(FUZZ_SECONDS)
