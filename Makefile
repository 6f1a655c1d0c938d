# keygate: `make run` to try it, `make test` to check it.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/keygate
CADDY   := github.com/caddyserver/caddy/v2
VERSION := $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS := -X $(CADDY).CustomBinaryName=keygate
ifneq ($(VERSION),)
LDFLAGS += -X $(CADDY).CustomVersion=$(VERSION)
endif
# -buildvcs: `keygate build-info` shows the commit (mod line, vcs.*) even
# where GOFLAGS turns stamping off; without .git (the Dockerfile) it is a no-op.
BUILDFLAGS := -trimpath -buildvcs=auto
TEST_TIMEOUT ?= 20m
RUN_LOG := keygate.log
# The race detector needs cgo, so a C compiler; Go alone tests without it.
RACE    ?= $(if $(filter 1,$(shell $(GO) env CGO_ENABLED 2>/dev/null)),-race)

.PHONY: build build-static docker run test fuzz bench bench-fleet bench-go screenshots clean

## build: compile ./bin/keygate, stamped with `git describe`
build:
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keygate

## build-static: build with cgo off, so $(BIN) is a static binary: what the
## Dockerfile runs (with VERSION and BIN set), and what integration_tests
## checks is static
build-static:
	CGO_ENABLED=0 $(MAKE) --no-print-directory build

## docker: build the container image $(IMAGE) with the Dockerfile (needs a
## Docker engine; `docker compose up --build` builds it too)
IMAGE ?= keygate:$(or $(VERSION),dev)
docker:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

## run: build, then serve Caddyfile.example on the embedded SQLite store
## (nothing to install, nothing to configure) and print what to try next;
## the gateway's JSON log goes to $(RUN_LOG). Ctrl-C stops it.
run: build
	@: > $(RUN_LOG); \
	./$(BIN) run --config Caddyfile.example --adapter caddyfile >>$(RUN_LOG) 2>&1 & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null; wait $$pid; exit 0' INT TERM; \
	until grep -q '"serving initial configuration"' $(RUN_LOG); do \
		if ! kill -0 $$pid 2>/dev/null; then \
			echo "make run: keygate did not start; the end of $(RUN_LOG):" >&2; \
			tail -n 20 $(RUN_LOG) >&2; exit 1; \
		fi; \
		sleep 0.1; \
	done; \
	store=$$(sed -n 's/.*"msg":"key store opened".*"path":"\([^"]*\)".*/\1/p' $(RUN_LOG)); \
	printf '%s\n' "$$NEXT_STEPS" | sed "s|@STORE@|$${store:-see $(RUN_LOG)}|; s|@LOG@|$(RUN_LOG)|"; \
	wait $$pid

# What make run prints once the gateway serves: the README loop.
define NEXT_STEPS

keygate is running: gateway on http://127.0.0.1:8080, demo integration on
http://127.0.0.1:9001, key store @STORE@,
log in @LOG@. In another terminal, from this directory:

  # 1. register the demo integration and create a key for it
  ./bin/keygate integrations add demo --base-url http://127.0.0.1:9001
  KEY_JSON=$$(./bin/keygate keys create --integration demo --name alice --json)
  KEY=$$(echo "$$KEY_JSON" | jq -r .key); KID=$$(echo "$$KEY_JSON" | jq -r .id)

  # 2. call it through the gateway: 200
  curl -i -H "Authorization: Bearer $$KEY" http://127.0.0.1:8080/demo/hello

  # 3. revoke the key
  ./bin/keygate keys revoke "$$KID"

  # 4. call again: 401
  curl -i -H "Authorization: Bearer $$KEY" http://127.0.0.1:8080/demo/hello

  # 5. the refusal in the auth log
  jq 'select(.reason=="revoked")' @LOG@

Ctrl-C stops the gateway.
endef
export NEXT_STEPS

## test: vet, then every test with the race detector; the PostgreSQL ones
## run on a throwaway cluster where PostgreSQL is installed, skip elsewhere
test:
	$(GO) vet ./...
	$(if $(RACE),,@echo "make test: no C compiler for cgo, so no race detector this time" >&2)
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) ./...

## fuzz: run every Go fuzz target of the module (each `func Fuzz...`, found
## with `go test -list`) for FUZZTIME each, one at a time; a failure stops
## it, with the failing input saved under the package's testdata/fuzz/.
## `make test` runs their seed corpora only.
FUZZTIME ?= 30s
fuzz:
	@set -e; $(GO) test -list '^Fuzz' ./... | \
	awk '/^Fuzz/ { t[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2, t[i]; n = 0 }' | \
	while read pkg target; do \
		echo "make fuzz: $$target ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: the performance harness, not part of test (about two minutes):
## starts PostgreSQL, an upstream, a forward_auth peer, stock Caddy (same
## Caddy version, same Go) and keygate on 127.0.0.1, drives each case with
## vegeta and prints one table. BENCHFLAGS passes options to
## bench/cmd/kgbench, e.g. BENCHFLAGS='-rounds 3 -keep'; BENCHFLAGS=-scale
## adds the 1,000,000-key store (about a minute more). bench/ is a module
## of its own, so that vegeta stays out of keygate's go.mod; -mod=mod lets
## it follow keygate's requirements as they change.
bench: build
	cd bench && $(GO) build -mod=mod $(BUILDFLAGS) -o ../bin/plaincaddy ./cmd/plaincaddy
	cd bench && $(GO) build -mod=mod $(BUILDFLAGS) -o ../bin/kgbench ./cmd/kgbench
	./bin/kgbench -keygate $(BIN) -caddy bin/plaincaddy $(BENCHFLAGS)

## bench-fleet: the fleet case of the harness (bench/cmd/kgbench/fleet.go):
## FLEET keygate processes on one PostgreSQL (default 3,20), timed from a
## revocation's commit to its refusal by every one, and through a
## pg_terminate_backend of every feed listener (a few minutes)
FLEET ?= 3,20
bench-fleet: build
	cd bench && $(GO) build -mod=mod $(BUILDFLAGS) -o ../bin/kgbench ./cmd/kgbench
	./bin/kgbench -keygate $(BIN) -fleet $(FLEET) $(BENCHFLAGS)

## bench-go: the Go benchmarks of the hot paths (key parsing, verifier, tokens,
## handler), with allocations
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./keystore ./verify ./token ./caddymodule

## screenshots: run the portal's browser test with KEYGATE_SCREENSHOTS=docs,
## which saves README's pictures of the portal as docs/portal-*.png (needs
## Chromium and PostgreSQL, as make test does)
screenshots:
	KEYGATE_SCREENSHOTS=$(CURDIR)/docs KEYGATE_TEST_REQUIRE_BROWSER=1 \
		$(GO) test -count=1 -run 'TestPortalInBrowser/javascript' ./integration_tests

## clean: remove build output and make run's log
clean:
	rm -rf bin $(RUN_LOG)
