# podpipe — the two commands: `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= config/podpipe.json
BIN = .build/debug

.PHONY: all build release demo test format lint clean bench

all: build

build:
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

# Unit and integration tests (the integration tests run the real binaries).
test:
	$(SWIFT) build
	$(SWIFT) test

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tests

clean:
	rm -rf .build var
