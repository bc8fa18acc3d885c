# Two commands matter to a newcomer: `make run` and `make test`.
GO      ?= go
ADDR    ?= 127.0.0.1:8000
FUZZTIME ?= 10s

# Every fuzz target, as package:FuzzName. `make test` gives each a short pass.
FUZZ_TARGETS := \
	./wire:FuzzReadFrameServer \
	./wire:FuzzReadFrameClient \
	./wire:FuzzHandshake \
	./wire:FuzzValidateUTF8 \
	./api:FuzzDecodeClient \
	./api:FuzzScanner \
	./client:FuzzDispatch \
	./client/term:FuzzParse

.PHONY: run test deps vet unit fuzz bench lint wsecho cluster

## run: start the chat server on $(ADDR)
run:
	$(GO) run ./cmd/chatd --addr $(ADDR)

## wsecho: start the RFC 6455 echo server used for conformance probes
wsecho:
	$(GO) run ./cmd/wsecho --addr 127.0.0.1:9001

## test: install/check test dependencies, vet, race tests (shuffled), a short fuzz pass per target
test: deps vet unit fuzz

deps:
	@bash .ci/deps

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -shuffle=on -timeout 15m ./...

fuzz:
	@FUZZTIME=$(FUZZTIME) bash .ci/fuzz $(FUZZ_TARGETS)

## bench: Go benchmarks of the hot paths (500 ms each), then a short chatbench pass of every scenario against chatd and the gorilla baseline; ≤ 6 min in all
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 500ms ./...
	$(GO) run ./cmd/chatbench --scenario all --baseline --quick

## lint: gofmt and go vet (staticcheck when installed)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed, skipped"; fi

## cluster: three chatd nodes on 127.0.0.1:8001-8003; node 1 runs NATS with JetStream (127.0.0.1:4222, files in $(CLUSTER_DIR)), the others join it; Ctrl-C stops all
CLUSTER_DIR ?= /tmp/chatd-cluster
cluster:
	@set -e; dir=$$(mktemp -d); bin=$$dir/chatd; $(GO) build -o $$bin ./cmd/chatd; \
	pids=""; trap 'kill $$pids 2>/dev/null; wait; rm -rf $$dir' INT TERM EXIT; \
	$$bin --addr 127.0.0.1:8001 --nats-embedded 127.0.0.1:4222 --data-dir $(CLUSTER_DIR) & pids="$$pids $$!"; \
	for i in $$(seq 100); do curl -fs http://127.0.0.1:8001/healthz >/dev/null 2>&1 && break; sleep 0.1; done; \
	$$bin --addr 127.0.0.1:8002 --nats nats://127.0.0.1:4222 & pids="$$pids $$!"; \
	$$bin --addr 127.0.0.1:8003 --nats nats://127.0.0.1:4222 & pids="$$pids $$!"; \
	sleep 1; echo; \
	echo "chatd cluster: three nodes on one NATS JetStream (node 1 embeds it; history in $(CLUSTER_DIR))"; \
	echo "  browser:  http://127.0.0.1:8001/  http://127.0.0.1:8002/  http://127.0.0.1:8003/"; \
	echo "  terminal: go run ./cmd/chat --name alice --url ws://127.0.0.1:8001/ws"; \
	echo "            go run ./cmd/chat --name bob   --url ws://127.0.0.1:8002/ws"; \
	echo "  Ctrl-C stops all three."; \
	wait
