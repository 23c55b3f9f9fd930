# Build, test and deploy the Client Certificates Mattermost plugin.
#
#   make help      list the targets
#   make test      everything CI runs: unit tests and end-to-end tests against a real Mattermost
#   make dist      build the plugin bundle dist/<id>-<version>.tar.gz
#   make run       start a local Mattermost with the plugin, for trying it by hand
#
# Needs GNU make, Go and Node/npm. The end-to-end tests and `make run` also need
# PostgreSQL, OpenSSL, NSS tools and Chromium (`make deps` installs them on Debian).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

GO ?= go
NPM ?= npm

# Build tools from build/, compiled into build/bin/ (Go's cache makes a rebuild
# of an unchanged tool a fraction of a second).
MANIFEST := build/bin/manifest
PLUGINCTL := build/bin/pluginctl

# Plugin id and version come from plugin.json via the manifest tool. They are
# evaluated on first use (after the tool is built) and then cached.
PLUGIN_ID = $(eval PLUGIN_ID := $(or $(shell $(MANIFEST) id),$(error cannot read the plugin id from plugin.json)))$(PLUGIN_ID)
PLUGIN_VERSION = $(eval PLUGIN_VERSION := $(or $(shell $(MANIFEST) version),$(error cannot read the version from plugin.json)))$(PLUGIN_VERSION)
BUNDLE_NAME = $(PLUGIN_ID)-$(PLUGIN_VERSION).tar.gz
BUNDLE = $(abspath dist/$(BUNDLE_NAME))

# The host page (built by the webapp target) that runs the webapp bundle in a
# browser, served by the test servers at / (see webapp/host/).
HOST_PAGE := $(CURDIR)/webapp/host/dist

# Limit the server build to some platforms, e.g. `make dist PLATFORMS=linux-amd64`.
# Empty means every platform in plugin.json's server.executables. The bundle's
# plugin.json then names only those platforms' executables: Mattermost runs
# the one for its own platform, so the bundle installs on those platforms.
PLATFORMS ?=

# The root module's packages. Go does not skip node_modules, and some npm
# packages ship .go files; leave those out.
GO_PACKAGES = $$($(GO) list -e ./... | grep -v /node_modules/)

# -race needs cgo (a C compiler); without one the unit tests run without it.
RACE ?= $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race,)

# Extra `go test` flags for the end-to-end tests, e.g. E2E_FLAGS='-run TestEnroll'.
E2E_FLAGS ?=

# The real Mattermost server the end-to-end tests and `make run` use. It is
# built from the small Go module in e2e/mmserver and kept outside the
# repository, keyed by that module's go.sum, so a warm machine reuses it.
MM_MODULE_DIR := e2e/mmserver
MM_SERVER_MODULE := github.com/mattermost/mattermost/server/v8
MM_SERVER_HASH := $(shell cat $(MM_MODULE_DIR)/go.sum 2>/dev/null | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
MM_SERVER_DIR ?= $(HOME)/.cache/mattermost-plugin-certs/mmserver-$(MM_SERVER_HASH)
MM_GOENV := GOFLAGS=-mod=mod GONOSUMDB=github.com/mattermost

# The real Dex (an OpenID Connect provider) the openid tests sign in through,
# built from the small Go module in server/openid/dextest/dexserver and kept
# outside the repository like the Mattermost server.
DEX_MODULE_DIR := server/openid/dextest/dexserver
DEX_HASH := $(shell cat $(DEX_MODULE_DIR)/go.sum 2>/dev/null | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
DEX_DIR ?= $(HOME)/.cache/mattermost-plugin-certs/dex-$(DEX_HASH)
DEX_GOENV := GOFLAGS=-mod=mod GONOSUMDB=github.com/dexidp

GOLANGCI_LINT_VERSION := v2.9.0

# GNU tar makes the bundle reproducible; macOS tar must not add ._ files.
TAR_FLAGS := $(if $(shell tar --version 2>/dev/null | grep -i 'gnu tar'),--owner=0 --group=0 --numeric-owner --sort=name,)
ifeq ($(shell uname -s),Darwin)
TAR_FLAGS += --disable-copyfile
endif

.PHONY: all help apply manifest-check server webapp webapp-deps bundle dist deploy \
	enable disable reset check-style golangci-lint mattermost dex deps unit-test e2e test \
	run bench clean FORCE

## Default: check style, run unit tests, build the bundle.
all: check-style unit-test dist

## List the targets.
help:
	@echo "Targets:"
	@awk '/^## /{doc=substr($$0,4); next} \
		/^[a-zA-Z0-9_.-]+:/ && doc!="" {split($$0,t,":"); printf "  %-16s %s\n", t[1], doc} \
		{doc=""}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: PLATFORMS='linux-amd64 ...' (server build and bundle), E2E_FLAGS='-run TestX',"
	@echo "  MM_SERVER_DIR=$(MM_SERVER_DIR)"

$(MANIFEST) $(PLUGINCTL): FORCE
	@$(GO) build -o $@ ./build/$(notdir $@)

FORCE:

## Generate server/manifest.go (committed) and webapp/src/manifest.ts from plugin.json.
apply: $(MANIFEST)
	@$(MANIFEST) apply

# Part of check-style and unit-test, which therefore do not run apply: a
# plugin.json edited without `make apply` fails here instead of being papered
# over by a regenerated, uncommitted server/manifest.go.
## Validate plugin.json; fail if the committed server/manifest.go is stale.
manifest-check: $(MANIFEST)
	@$(MANIFEST) check
	@$(MANIFEST) check-generated

## Build the server binaries for every platform in plugin.json (or PLATFORMS) into server/dist/.
server: apply
	@$(MANIFEST) executables $(PLATFORMS) >/dev/null
	@rm -rf server/dist
	@$(MANIFEST) executables $(PLATFORMS) | while read -r goos goarch out; do \
		echo "go build ./server for $$goos-$$goarch -> $$out"; \
		CGO_ENABLED=0 GOOS=$$goos GOARCH=$$goarch $(GO) build -trimpath -ldflags '-s -w' -o "$$out" ./server || exit 1; \
		awk -v f="$$out" -v n="$$(wc -c < "$$out")" 'BEGIN { printf "  %-42s %6.1f MB\n", f, n / 1048576 }'; \
	done

# npm ci when node_modules is missing or older than the lock file. A failed
# install leaves no node_modules behind, so the next run tries again.
webapp/node_modules: webapp/package-lock.json
	cd webapp && { $(NPM) ci --no-audit --no-fund || { rm -rf node_modules; exit 1; }; }
	@touch $@

webapp/package-lock.json:
	@echo "webapp/package-lock.json is missing: run 'npm install' in webapp/ and commit the lock file" >&2; exit 1

## Install the webapp's npm dependencies (npm ci) if they are missing or stale.
webapp-deps: webapp/node_modules

## Build the webapp into webapp/dist (main.js and the chunks it loads on demand), check main.js's size, and build the host page that runs it (webapp/host/dist/).
webapp: apply webapp/node_modules
	cd webapp && $(NPM) run build
	cd webapp && node scripts/check-bundle-size.js
	cd webapp && $(NPM) run build:host

## Pack dist/<id>-<version>.tar.gz from what is already built (see dist; PLATFORMS as built).
bundle: $(MANIFEST)
	@rm -rf dist
	@mkdir -p dist/$(PLUGIN_ID)/server dist/$(PLUGIN_ID)/webapp/dist
	@if [ -d assets ]; then cp -R assets dist/$(PLUGIN_ID)/; fi
	@if [ -d public ]; then cp -R public dist/$(PLUGIN_ID)/; fi
	@$(MANIFEST) executables $(PLATFORMS) | while read -r goos goarch out; do \
		mkdir -p "dist/$(PLUGIN_ID)/$$(dirname "$$out")"; \
		if [ -f "$$out" ]; then cp "$$out" "dist/$(PLUGIN_ID)/$$out"; fi; \
	done
	@# Every file: Mattermost serves them all, main.js loads the others with import().
	@cp -R webapp/dist/. dist/$(PLUGIN_ID)/webapp/dist/
	@$(MANIFEST) dist $(PLATFORMS)
	@$(MANIFEST) check-bundle
	@tar $(TAR_FLAGS) -C dist -czf dist/$(BUNDLE_NAME) $(PLUGIN_ID)
	@printf 'Plugin bundle: dist/%s (%s)\n' "$(BUNDLE_NAME)" "$$(du -h dist/$(BUNDLE_NAME) | cut -f1)"

## Build everything and pack the plugin bundle dist/<id>-<version>.tar.gz.
dist: apply server webapp
	@$(MAKE) bundle

## Build the bundle and install it on a running server (see build/pluginctl).
deploy: dist $(PLUGINCTL)
	$(PLUGINCTL) deploy $(PLUGIN_ID) dist/$(BUNDLE_NAME)

## Enable the installed plugin on a running server.
enable: $(PLUGINCTL) $(MANIFEST)
	$(PLUGINCTL) enable $(PLUGIN_ID)

## Disable the installed plugin on a running server.
disable: $(PLUGINCTL) $(MANIFEST)
	$(PLUGINCTL) disable $(PLUGIN_ID)

## Disable, then enable the plugin on a running server.
reset: $(PLUGINCTL) $(MANIFEST)
	$(PLUGINCTL) reset $(PLUGIN_ID)

## plugin.json and server/manifest.go, gofmt, go vet (with and without the e2e and dex tags), webapp lint and type check.
check-style: manifest-check webapp/node_modules
	@echo "gofmt -l"
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' \
		-not -path './dist/*' -not -path './.run/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$out" ]; then echo "Files not formatted with gofmt:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet $(GO_PACKAGES)
	$(GO) vet -tags e2e ./e2e/...
	$(GO) vet -tags dex ./server/openid/...
	cd webapp && $(NPM) run lint
	cd webapp && $(NPM) run check-types

## Optional: golangci-lint v2.9.0 (installed into bin/), not part of test.
golangci-lint: apply
	@if ! bin/golangci-lint version 2>/dev/null | grep -q '$(patsubst v%,%,$(GOLANGCI_LINT_VERSION))'; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into bin/"; \
		GOBIN=$(CURDIR)/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	bin/golangci-lint run ./...

## Build the real Mattermost server for e2e tests and `make run` (cold: ~7 min).
mattermost:
	@dir="$(MM_SERVER_DIR)"; \
	if [ -x "$$dir/bin/mattermost" ]; then echo "Mattermost server: $$dir (already built)"; exit 0; fi; \
	echo "Building the Mattermost server into $$dir (cold: about 7 minutes)"; \
	start=$$(date +%s); \
	mkdir -p "$$dir/bin"; \
	tmp="$$dir/bin/.mattermost.$$$$.tmp"; \
	trap 'rm -f "$$tmp"' EXIT; \
	cd $(MM_MODULE_DIR); \
	$(MM_GOENV) $(GO) build -o "$$tmp" $(MM_SERVER_MODULE)/cmd/mattermost; \
	src=$$($(MM_GOENV) $(GO) list -m -f '{{.Dir}}' $(MM_SERVER_MODULE)); \
	for d in i18n templates fonts; do \
		rm -rf "$$dir/$$d"; cp -R "$$src/$$d" "$$dir/$$d"; chmod -R u+w "$$dir/$$d"; \
	done; \
	mkdir -p "$$dir/client"; \
	mv -f "$$tmp" "$$dir/bin/mattermost"; \
	trap - EXIT; \
	echo "Built $$dir/bin/mattermost ($$(du -h "$$dir/bin/mattermost" | cut -f1)) in $$(( $$(date +%s) - start )) s"

## Build the real Dex for the OpenID Connect tests (cold: ~3 min).
dex:
	@dir="$(DEX_DIR)"; \
	if [ -x "$$dir/bin/dex" ]; then echo "Dex: $$dir/bin/dex (already built)"; exit 0; fi; \
	echo "Building Dex into $$dir (cold: about 3 minutes)"; \
	mkdir -p "$$dir/bin"; \
	tmp="$$dir/bin/.dex.$$$$.tmp"; \
	trap 'rm -f "$$tmp"' EXIT; \
	cd $(DEX_MODULE_DIR); \
	$(DEX_GOENV) $(GO) build -o "$$tmp" github.com/dexidp/dex/cmd/dex; \
	mv -f "$$tmp" "$$dir/bin/dex"; \
	trap - EXIT; \
	echo "Built $$dir/bin/dex ($$(du -h "$$dir/bin/dex" | cut -f1))"

## Install missing Debian packages for e2e tests and `make run` (PostgreSQL, OpenSSL, NSS tools, Chromium).
deps:
	@build/install-deps.sh

## Connector tests against a real step-ca run in-process (own module; cold compile ~2-4 min).
stepca-test:
	cd server/connector/stepcatest && $(GO) test -count=1 ./...
.PHONY: stepca-test

## OpenID Connect sign-ins through a real Dex (builds dex).
dex-test: dex
	DEX_BIN=$(DEX_DIR)/bin/dex $(GO) test -tags dex -count=1 ./server/openid/dextest/
.PHONY: dex-test

## Go unit tests (with -race when cgo is available), the step-ca and Dex tests and webapp tests.
unit-test: manifest-check webapp/node_modules stepca-test dex-test
	$(GO) test $(RACE) -count=1 $(GO_PACKAGES)
	cd webapp && $(NPM) test

## End-to-end tests against a real Mattermost and PostgreSQL (builds dist and mattermost).
e2e: deps dist mattermost dex
	$(GO) test -tags e2e -count=1 -timeout 10m ./server/sqlstore/...
	MM_SERVER_DIR=$(MM_SERVER_DIR) CERTS_BUNDLE=$(BUNDLE) DEX_BIN=$(DEX_DIR)/bin/dex CERTS_HOST_PAGE=$(HOST_PAGE) \
		$(GO) test -tags e2e -count=1 -timeout 40m -v $(E2E_FLAGS) ./e2e/...

## Everything: manifest and style checks, unit tests, end-to-end tests. What CI (.ci/run) runs.
test: check-style unit-test e2e

## Start PostgreSQL + Mattermost with the plugin on loopback; Ctrl-C stops it.
run: deps dist mattermost dex
	MM_SERVER_DIR=$(MM_SERVER_DIR) CERTS_BUNDLE=$(BUNDLE) RUN_DIR=$(CURDIR)/.run DEX_BIN=$(DEX_DIR)/bin/dex CERTS_HOST_PAGE=$(HOST_PAGE) \
		$(GO) run -tags e2e ./e2e/cmd/devserver

# Extra flags for the load tool in `make bench`, e.g. BENCH_FLAGS='-n 2000 -c 40'.
BENCH_FLAGS ?=
BENCH_DIR := .bench

# Six passes of the Go benchmarks, and the report takes the median of each.
# A shared 2-core machine's speed moves from minute to minute, and runs of one
# benchmark back to back share one state of it: the passes, minutes apart,
# sample more of them.
BENCH_PASSES ?= 6
## Go benchmarks, then the load tool against a real Mattermost + PostgreSQL; report in .bench/report.md.
bench: apply deps dist mattermost
	@mkdir -p $(BENCH_DIR)
	@rm -f $(BENCH_DIR)/go-bench.txt
	@for pass in $$(seq $(BENCH_PASSES)); do \
		echo "Go benchmarks, pass $$pass of $(BENCH_PASSES)"; \
		$(GO) test -run '^$$' -bench . -benchmem -count 1 ./server/... >> $(BENCH_DIR)/go-bench.txt || { cat $(BENCH_DIR)/go-bench.txt; exit 1; }; \
	done
	@cat $(BENCH_DIR)/go-bench.txt
	$(GO) build -tags e2e -o build/bin/certload ./e2e/cmd/certload
	MM_SERVER_DIR=$(MM_SERVER_DIR) CERTS_BUNDLE=$(BUNDLE) build/bin/certload -scenario bench \
		-go-bench $(BENCH_DIR)/go-bench.txt -report $(BENCH_DIR)/report.md $(BENCH_FLAGS)

## Remove build output and generated files that are not committed.
clean:
	rm -rf dist server/dist webapp/dist webapp/src/manifest.ts build/bin
