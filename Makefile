# Tenantry — every task a developer or CI runs. `make run` and `make test` are the two that matter.
GO       ?= go
GOFLAGS  ?=
PKGS     := ./...

.PHONY: run build test test-go test-sdk lint generate check-generated css bench soak fuzz help

# Fuzz targets (package:FuzzName), one per line. `make fuzz` runs each for FUZZTIME; `make test-go`
# runs each for FUZZTIME_TEST. Their corpora are committed under <package>/testdata/fuzz/.
FUZZ_TARGETS := \
	./internal/auth:FuzzVerifyToken \
	./internal/auth:FuzzVerifySignedClaims \
	./internal/tenancy:FuzzValidateFields \
	./internal/tenancy:FuzzMergeConfig \
	./internal/runner:FuzzRender \
	./internal/runner:FuzzBuildRequest \
	./internal/store:FuzzParseCursor \
	./internal/store:FuzzActivityFilterValidate \
	./web/api:FuzzQueryList \
	./web/api:FuzzQueryBoolean
FUZZTIME      ?= 5s
FUZZTIME_TEST ?= 1000x

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: ## start the Console and API (embedded PostgreSQL unless DATABASE_URL is set), with demo data
	$(GO) run ./cmd/tenantry serve

build: ## build bin/tenantry
	$(GO) build -o bin/tenantry ./cmd/tenantry

test: lint check-generated test-go ## every test: lint, generated code in step, Go tests (+ SDK suite when Node is present)
	@if command -v node >/dev/null; then $(MAKE) test-sdk; else echo "node not found: skipping the SDK suite"; fi

test-go: ## the Go tests against a real PostgreSQL (TEST_DATABASE_URL, else the embedded cluster), then each fuzz target briefly
	$(GO) test $(GOFLAGS) -count=1 -timeout 12m $(PKGS)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)

test-sdk: ## Membrane's JavaScript SDK from npm against the real server (needs Node)
	cd sdk-tests && npm ci --no-audit --no-fund --loglevel=error && node --test

lint: ## go vet and gofmt
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*') | grep -v '_templ.go$$'); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

generate: ## regenerate templ output
	$(GO) tool templ generate

check-generated: ## fail when committed templ output is out of step with the .templ sources
	@$(GO) tool templ generate >/dev/null 2>&1
	@if [ -n "$$(git status --porcelain -- '*_templ.go' 2>/dev/null)" ]; then \
		echo "templ output is stale: run 'make generate' and commit"; git status --porcelain -- '*_templ.go'; exit 1; fi

css: ## rebuild static/css/app.css from tailwind.config.js (needs `npm ci` once)
	npx tailwindcss -c tailwind.config.js -i static/css/input.css -o static/css/app.css --minify

fuzz: ## run every fuzz target for FUZZTIME (default 5s) each; a failing input is saved under testdata/fuzz/
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test $(GOFLAGS) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: ## Go benchmarks against a real PostgreSQL, then the wrk load run of GET /api/self beside pgbench
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m $(PKGS)
	scripts/bench-api.sh 16 20

SOAK_SECONDS ?= 60
CONNECTIONS  ?= 16
soak: ## bounded mixed load (wrk, not part of make test): tenants, action runs, managers; latencies, errors, server RSS
	scripts/soak.sh $(SOAK_SECONDS) $(CONNECTIONS)
