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
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: Go benchmarks of the hot paths, then a short chatbench pass of every scenario against chatd and the gorilla baseline
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/chatbench --scenario all --baseline --quick

## lint: gofmt and go vet (staticcheck when installed)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed, skipped"; fi
