# The project's commands. `make test` is what CI runs (through .ci/run).
GO      ?= go
INTEROP := testutil/interop
FUZZTIME ?= 10s

.PHONY: test fmt vet unit pgvalues interop interop-deps bench fuzz

## test: gofmt check, go vet, race-enabled unit/integration tests and examples, interop suite
test: fmt vet unit interop

fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './$(INTEROP)/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt -w needed for:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags interop ./$(INTEROP)/

## unit: every package's tests, including the checks of Postgres values against a throwaway
## PostgreSQL 15 cluster (they fail without its server binaries: apt-get install postgresql-15)
unit:
	$(GO) test -race -count=1 ./...

## pgvalues: only the checks against PostgreSQL
pgvalues:
	$(GO) test -count=1 -run '^TestPostgresValues' ./pgchanges/ ./testutil/

## interop: realtime-js (from npm) against the fake server; installs the npm packages if missing
interop: interop-deps
	$(GO) test -race -count=1 -tags interop ./$(INTEROP)/

interop-deps:
	@if [ ! -d $(INTEROP)/node_modules/@supabase/realtime-js ]; then \
		echo "installing the interop suite's npm packages"; \
		cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

## bench: every benchmark, with allocations
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## fuzz: a short run ($(FUZZTIME)) of every fuzz target
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done
