# hala — see README.md. `make run` and `make test` are the two set-up commands.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/hala-lb/hala/pkg/cli.version=$(VERSION) -X github.com/hala-lb/hala/pkg/cli.commit=$(COMMIT)
BIN := bin/hala
# The packages' version: the git tag without its v (see scripts/package).
PKG_DIR ?= out/package
EXAMPLE ?= examples/two-node.toml
OUT ?= out

.PHONY: all build run test test-unit test-vm test-package package e2e e2e-agent golden lint verify bench bench-render bench-check bench-ipvs bench-director bench-agent bench-agent-crash fuzz deps clean

all: build

# hala, and hala-director next to it: hala director executes it (see
# docs/architecture.md).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hala
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)-director ./cmd/hala-director

# The README's first command: build, then render the bundled example into ./out.
run: build
	./$(BIN) render -i $(EXAMPLE) -d $(OUT)

# The README's second command: unit tests, then the real-kernel suite in the test VM.
test: deps test-unit test-package test-vm

# Installs (apt-get) what the tests need when it is missing.
deps:
	scripts/ensure-deps

# HALA_REQUIRE_TOOLS=1 turns "tool missing" skips (keepalived, ipvsadm) into failures.
test-unit:
	HALA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 ./...

# .deb and .rpm with nFPM (a Go library, in scripts/package's own module).
package: build
	$(GO) -C scripts/package build -o ../../bin/hala-package .
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) bin/hala-package -bin $(BIN) -version $(VERSION) -root . -out $(PKG_DIR)

# rpm -qlp, lintian, and dpkg -i (undone afterwards) of the packages.
test-package: package
	$(GO) -C scripts/package test ./...
	scripts/test-package $(PKG_DIR) $$(bin/hala-package -print-version $(VERSION)) $(VERSION)

# Boots Debian's kernel in qemu and runs the `integration` tests inside it as root.
test-vm: build
	scripts/vmtest-suite

e2e: build
	scripts/vmtest-suite -e2e-only

# The hala agent rows (A1-A5) alone, with the issue's targets as bounds; make test runs them in
# the director half with mechanism bounds (docs/e2e.md).
e2e-agent: build
	HALA_E2E_ONLY=agent scripts/vmtest-suite -e2e-only

golden:
	$(GO) test ./pkg/render -update

# staticcheck is pinned by the tool directive in go.mod.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags integration ./...
	$(GO) -C scripts/package vet ./...

verify: lint
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
	$(GO) test ./pkg/render -update && git diff --exit-code -- pkg/render/testdata

bench: bench-render bench-check

# Render and parse benchmarks; the full-mesh one produces 1.1 GB per op.
bench-render:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/render

bench-check: build
	scripts/bench-check

bench-ipvs: build
	scripts/vmtest-suite -bench-ipvs

# hala director's checks vs fork+exec of hala check per backend × input per second.
bench-director:
	scripts/bench-director

# hala agent: CPU and peak RSS with 10 inputs watched.
bench-agent:
	scripts/bench-agent

# hala agent: a receiver's SIGKILL to the stream's "down", by its size.
bench-agent-crash:
	scripts/bench-agent-crash

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoadValidateRender -fuzztime 30s ./pkg/render
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./pkg/inventory
	$(GO) test -run '^$$' -fuzz FuzzParseNodeStats -fuzztime 30s ./pkg/logstash
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./pkg/keepalived

clean:
	rm -rf bin out .cache/vm
