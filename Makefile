# obsbox — `make demo` shows the stack installed on local test hosts, `make test` runs every test.
SHELL   := /bin/bash
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
E2E_CACHE ?= /var/cache/obsbox-e2e
FUZZTIME  ?= 10s
FUZZMIN   ?= 2000
export CGO_ENABLED := 0

# The real tools the unit tests check rendered configuration with.
PROMTOOL ?= $(firstword $(wildcard $(E2E_CACHE)/bin/promtool-2.53.3 $(E2E_CACHE)/bin/promtool-*))
AMTOOL   ?= $(firstword $(wildcard $(E2E_CACHE)/bin/amtool-0.27.0 $(E2E_CACHE)/bin/amtool-*))

.PHONY: build lint test test-unit fuzz test-e2e e2e-prereqs bundles demo demo-down clean bench

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/obsbox ./cmd/obsbox

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

# Unit tests, a short fuzz run, then the end-to-end suite on real hosts.
# e2e/prereqs.sh exits 3 when it cannot run here (not root, …) outside CI:
# then the e2e part is skipped, loudly; with CI=true that is a failure.
test: lint
	@set -e; rc=0; bash e2e/prereqs.sh || rc=$$?; \
	if [ $$rc -eq 3 ]; then echo "SKIPPED: end-to-end prerequisites missing (see above)"; \
	  $(MAKE) --no-print-directory test-unit fuzz; exit 0; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	bash e2e/build-bundles.sh; \
	$(MAKE) --no-print-directory test-unit RACE=1 fuzz test-e2e

# One real tool per release line (installer/component lines_test.go); empty when not built.
LINE_TOOLS := $(foreach v,2.42.0 2.53.3 3.5.3 3.16.0,OBSBOX_PROMTOOL_$(subst .,_,$(basename $(v)))=$(wildcard $(E2E_CACHE)/bin/promtool-$(v))) \
	$(foreach v,0.25.0 0.27.0 0.35.0,OBSBOX_AMTOOL_$(subst .,_,$(basename $(v)))=$(wildcard $(E2E_CACHE)/bin/amtool-$(v)))

# RACE=1 (what `make test` uses once the prerequisites are in, a C compiler
# among them): the same tests under the race detector, which needs cgo.
RACE ?=
test-unit:
	OBSBOX_PROMTOOL=$(PROMTOOL) OBSBOX_AMTOOL=$(AMTOOL) $(LINE_TOOLS) OBSBOX_E2E_MIRROR=$(E2E_CACHE)/mirror \
	  $(if $(RACE),CGO_ENABLED=1 $(GO) test -race,$(GO) test) -count=1 ./...

# Every fuzz target for FUZZTIME each; fails when one ran fewer than FUZZMIN inputs.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMIN=$(FUZZMIN) bash scripts/fuzz.sh

# Two host sets side by side (e2e/run-suite.sh); E2E_SETS=1 for one.
test-e2e: build
	GO=$(GO) bash e2e/run-suite.sh

e2e-prereqs:
	bash e2e/prereqs.sh

bundles:
	bash e2e/build-bundles.sh

# Three local test hosts with the whole stack, then the URLs.
demo: build
	bash e2e/prereqs.sh
	bash e2e/build-bundles.sh
	bash e2e/demo.sh

demo-down:
	bash e2e/hosts.sh down

# obsbox against the physical floor on N real test hosts (issues 8, 17): one table per RTT (ms added to every SSH connection)
# of medians over RUNS runs, then the no-op apply at the SCALE sizes (SCALE= skips it).
N     ?= 10
RUNS  ?= 3
SCALE ?= 1,10,25,50
RTT   ?= 0
# BASELINE=path/to/older/obsbox adds its figures as "before" in the dead-host table.
BASELINE ?=
bench: build
	bash e2e/prereqs.sh
	OBSBOX_E2E_DIR=$(CURDIR)/e2e $(GO) run ./bench -n $(N) -runs $(RUNS) -scale '$(SCALE)' -rtt '$(RTT)' -baseline '$(BASELINE)' -obsbox bin/obsbox

clean:
	rm -rf bin e2e-test.log e2e-test-s1.log
