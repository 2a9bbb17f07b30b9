# GNU make. `make test` is what CI runs (.ci/run); `make run` serves the API
# locally; `sam build` calls the build-<LogicalId> targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go

# functions/<name> main packages, one Lambda each.
FUNCTIONS := list-integrations integration-settings oauth-url oauth-callback disconnect notifications audit expiry-scan \
	token-broker connection-check event-publisher

STATICCHECK_VERSION := v0.8.2
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da

# A Lambda binary: provided.al2023 on arm64, no RPC shim, no cgo.
GOBUILD_LAMBDA = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w'

LOCAL_TARGETS := $(FUNCTIONS:%=build-fn-%)
.PHONY: build run test lint fmt-check tidy-check vet staticcheck cfn-lint fuzz bench clean $(LOCAL_TARGETS)

# bin/<name>/bootstrap for each function (make -j builds them in parallel).
build: $(LOCAL_TARGETS)

$(LOCAL_TARGETS): build-fn-%:
	$(GOBUILD_LAMBDA) -o bin/$*/bootstrap ./functions/$*

# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` with
# ARTIFACTS_DIR set; each writes that function's bootstrap there.
SAM_TARGETS := build-ListIntegrationsFunction build-IntegrationSettingsFunction \
	build-OAuthURLFunction build-OAuthCallbackFunction build-DisconnectFunction \
	build-NotificationsFunction build-AuditFunction build-ExpiryScanFunction \
	build-TokenBrokerFunction build-ConnectionCheckFunction build-EventPublisherFunction
.PHONY: $(SAM_TARGETS)

build-ListIntegrationsFunction:    FUNCTION := list-integrations
build-IntegrationSettingsFunction: FUNCTION := integration-settings
build-OAuthURLFunction:            FUNCTION := oauth-url
build-OAuthCallbackFunction:       FUNCTION := oauth-callback
build-DisconnectFunction:          FUNCTION := disconnect
build-NotificationsFunction:       FUNCTION := notifications
build-AuditFunction:               FUNCTION := audit
build-ExpiryScanFunction:          FUNCTION := expiry-scan
build-TokenBrokerFunction:         FUNCTION := token-broker
build-ConnectionCheckFunction:     FUNCTION := connection-check
build-EventPublisherFunction:      FUNCTION := event-publisher


$(SAM_TARGETS):
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: this target is for sam build" >&2; exit 1; }
	$(GOBUILD_LAMBDA) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/$(FUNCTION)

# The local server: every route on embedded backends (PORT, default 3000).
run:
	$(GO) run ./infra/cmd/local

# Lint, then every test with the race detector. testsummary prints one line
# per package, the output of every failed test and every build error, and
# fails on any failure, or on any skipped test in the moto-backed packages.
# go's own errors (stderr) go through it too, so they stay in order. Then
# every fuzz target briefly (the race run above already ran their seed
# corpora under testdata/fuzz).
test: lint
	$(GO) test -json -count=1 -race ./... 2>&1 | $(GO) run ./infra/cmd/testsummary
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

# Fuzzing: go test runs one fuzz target per invocation, so this finds every
# `func FuzzXxx` in the module's _test.go files and runs each for FUZZTIME,
# printing one line per target with its executions ("?" when the run ended
# while still replaying the corpus, as on a busy machine). A failure prints go's
# whole output; the failing input is then in the package's
# testdata/fuzz/FuzzXxx/ (commit it as a regression seed once fixed).
# Longer runs: make fuzz FUZZTIME=60s (see docs/RELIABILITY.md); one target:
# go test -run '^$$' -fuzz '^FuzzRoutes$$' -fuzztime 10m ./shared/handlers
FUZZTIME ?= 10s
TEST_FUZZTIME ?= 3s
fuzz:
	@out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	for file in $$(grep -rlE --include='*_test.go' '^func Fuzz[A-Z]' shared infra | sort); do \
		pkg=./$$(dirname "$$file"); \
		for target in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(.*/\1/p' "$$file"); do \
			if ! $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" >"$$out" 2>&1; then \
				if grep -q 'context deadline exceeded' "$$out" && ! grep -qE 'Failing input written|failure while testing seed corpus|panic:' "$$out"; then \
					printf 'ok   %-20s %-32s %10s execs in %s (its warm-up outlasted the time on a busy machine)\n' "$$target" "$$pkg" "?" "$(FUZZTIME)"; \
					continue; \
				fi; \
				cat "$$out"; echo "FAIL $$target $$pkg"; exit 1; \
			fi; \
			execs=$$( { grep -oE 'execs: [0-9]+' "$$out" || true; } | tail -1 | cut -d' ' -f2); \
			printf 'ok   %-20s %-32s %10s execs in %s\n' "$$target" "$$pkg" "$${execs:-?}" "$(FUZZTIME)"; \
		done; \
	done

# A race-enabled test binary sleeps 1 s at exit by default so that late
# reports surface; tests here end their goroutines, so skip the sleep (it
# cost about 1 s per package). Set GORACE to override.
GORACE ?= atexit_sleep_ms=0
export GORACE

lint: fmt-check tidy-check vet staticcheck cfn-lint

# go.mod and go.sum say exactly what the code imports (direct requirements
# not marked indirect, nothing missing or stale).
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy" >&2; exit 1; }

# gofmt over the files go builds: skips directories go ignores (., _ and
# testdata), which also skips .aws-sam and .git.
fmt-check:
	@files=$$(find . -mindepth 1 -type d \( -name '.*' -o -name '_*' -o -name testdata -o -name node_modules \) -prune \
		-o -type f -name '*.go' -print); \
	bad=$$(gofmt -l $$files </dev/null); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$bad"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

cfn-lint:
	@command -v cfn-lint >/dev/null || { echo "cfn-lint not found: pip install cfn-lint" >&2; exit 1; }
	cfn-lint template.yaml

# The benchmarks that carry a target, the bootstraps' size (as `build` makes
# them) and cold start, then benchstat over bench.txt and a table of every
# figure next to its target (docs/performance.md). About 3 minutes on 2
# cores. Every benchmark: go test -run '^$$' -bench . -benchmem ./...
bench:
	$(GO) run ./infra/cmd/benchreport -out bench.txt -benchstat golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

clean:
	rm -rf bin .aws-sam bench.txt
