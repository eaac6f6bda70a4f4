# pulsar-producer: `make help` lists the targets.
#
# Every target installs what it needs itself: the broker comes from Maven
# Central (tests/broker/broker.sh), Python and npm test dependencies from
# their registries. Builds go to build/.

GO        ?= go
CC        ?= gcc
CXX       ?= g++
BUILD     := build
LIB       := $(BUILD)/lib
# The shared library's name and export list per platform: Linux (tested
# here) uses an ELF version script; macOS a Mach-O dylib and ld64's
# -exported_symbols_list, whose patterns may hold wildcards (`_pp_*`: the C
# names get a leading underscore, and ppgo_/ppx_ helpers stay hidden).
UNAME     := $(shell uname -s)
ifeq ($(UNAME),Darwin)
SOEXT     := dylib
LDEXPORTS := -extldflags=-Wl,-exported_symbols_list,$(CURDIR)/capi/exports.darwin
else
SOEXT     := so
LDEXPORTS := -extldflags=-Wl,--version-script=$(CURDIR)/capi/exports.map
endif
SO        := $(LIB)/libpulsar_producer.$(SOEXT)
ARCHIVE   := $(LIB)/libpulsar_producer.a
PC        := $(LIB)/pkgconfig/pulsar_producer.pc
WASM      := $(BUILD)/wasm/pulsar_producer.wasm
GOSRC     := $(shell find core capi internal -name '*.go' -o -name '*.c' -o -name '*.map') include/pulsar_producer.h go.mod go.sum
VERSION   := $(shell sed -n 's/^\#define PP_VERSION_STR "\(.*\)"/\1/p' include/pulsar_producer.h)
PROTOC_GEN_GO := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
WAZERO        := github.com/tetratelabs/wazero/cmd/wazero@v1.12.0
# Runs a wasip1 test binary under the wazero CLI (go test -exec); GOOS and
# GOARCH are unset so that go run builds the CLI for this machine.
WASMEXEC      := env -u GOOS -u GOARCH $(GO) run $(WAZERO) run -mount=/:/:ro -env-inherit -cachedir=$(CURDIR)/$(BUILD)/wazero-cache

NODE_PLAT     := $(shell node -p 'process.platform + "-" + process.arch' 2>/dev/null)
NODE_PREBUILD := bindings/node/prebuilds/$(NODE_PLAT)/libpulsar_producer.$(SOEXT)
NODE_WASM     := bindings/node/wasm/pulsar_producer.wasm

.PHONY: help demo test lib wasm wasm-test node bench leaks check proto broker-start broker-stop clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

demo: lib wasm node ## Start a local broker if none runs, publish a few messages from every language, print their IDs
	@tests/demo.sh

test: lib wasm node ## Run every test suite against a real broker that it starts and stops
	@tests/run.sh

lib: $(SO) $(ARCHIVE) $(PC) ## Build the C shared library, static archive and pkg-config file

$(SO): $(GOSRC)
	@mkdir -p $(LIB)
	$(GO) build -buildmode=c-shared -trimpath -ldflags="$(LDEXPORTS)" -o $@ ./capi
	@rm -f $(LIB)/libpulsar_producer.h

$(ARCHIVE): $(GOSRC)
	@mkdir -p $(LIB)
	$(GO) build -buildmode=c-archive -trimpath -o $@ ./capi
	@rm -f $(LIB)/libpulsar_producer.h

$(PC): include/pulsar_producer.h
	@mkdir -p $(LIB)/pkgconfig
	@printf 'prefix=%s\nlibdir=$${prefix}/$(LIB)\nincludedir=$${prefix}/include\n\nName: pulsar_producer\nDescription: Apache Pulsar producer\nVersion: %s\nLibs: -L$${libdir} -lpulsar_producer\nLibs.private: -lpthread -lm\nCflags: -I$${includedir}\n' "$(CURDIR)" "$(VERSION)" > $@

wasm: $(WASM) ## Build the WASI reactor module

$(WASM): $(shell find core internal wasm/guest wasm/internal -name '*.go' 2>/dev/null) go.mod go.sum
	@mkdir -p $(dir $@)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags="-s -w" -o $@ ./wasm/guest

wasm-test: ## Run the engine's and the module's tests compiled to wasip1, under wazero
	GOOS=wasip1 GOARCH=wasm $(GO) test -count=1 $(GOTESTFLAGS) -exec "$(WASMEXEC)" ./core/engine/ ./wasm/guest/

node: $(NODE_PREBUILD) $(NODE_WASM) bindings/node/node_modules/.package-lock.json ## Node package: the library and the WASI module copied in, dependencies installed

$(NODE_PREBUILD): $(SO)
	@mkdir -p $(dir $@)
	cp $(SO) $@

$(NODE_WASM): $(WASM)
	@mkdir -p $(dir $@)
	cp $(WASM) $@

bindings/node/node_modules/.package-lock.json: bindings/node/package-lock.json
	cd bindings/node && npm ci --no-audit --no-fund

bench: lib wasm node ## Print benchmark figures: engine, native vs official Go client, C, Python, Node, WASI
	@tests/bench.sh

leaks: lib node ## Resident memory stays flat over 10M messages in C, Python and Node (ack-at-once fake broker, no real broker)
	@tests/leaks/run.sh

check: lib node ## Static checks: gofmt, go vet (native, wasip1, tests), generated files current (docs/OPTIONS.md, the header's result enum, the Node tables), exported symbols = the header, mypy --strict, tsc
	@tests/check.sh

proto: ## Regenerate internal/pb from internal/pb/pulsar_api.proto (needs protoc)
	GOBIN=$(CURDIR)/$(BUILD)/bin $(GO) install $(PROTOC_GEN_GO)
	cd internal/pb && PATH=$(CURDIR)/$(BUILD)/bin:$$PATH protoc --go_out=. --go_opt=paths=source_relative pulsar_api.proto

broker-start: ## Start the local test broker (downloads Pulsar on first use)
	@tests/broker/broker.sh start

broker-stop: ## Stop the local test broker
	@tests/broker/broker.sh stop

clean: ## Remove build outputs
	rm -rf $(BUILD) bindings/node/prebuilds bindings/node/wasm bindings/node/node_modules

# --- Reliability: the fault table against a two-broker cluster, and fuzzing ---

FUZZTIME     ?= 60s
FUZZ_TARGETS := core/engine:FuzzReceive core/engine:FuzzParseFrame core/engine:FuzzDecodeCommand core/engine:FuzzDecodeReceipt \
                core/engine:FuzzParseOptionsJSON core/engine:FuzzSetOption core/engine:FuzzParseServiceURL \
                core/engine:FuzzParseTopic core/engine:FuzzCheckJSON wasm/guest:FuzzDecodeMetadata wasm:FuzzDecodeEvents

.PHONY: faults fuzz fuzz-targets

faults: lib ## Run the full fault table on a two-broker cluster (tests/broker/cluster.sh) and write docs/RELIABILITY.md
	cd tests && PP_FAULTS=full PP_FAULTS_OUT=$(CURDIR)/docs/RELIABILITY.md $(GO) test -v -count=1 -timeout 4h -run TestFaults ./faults

fuzz: ## Run every fuzz target for FUZZTIME each (default 60s)
	@for t in $(FUZZ_TARGETS); do \
		echo "== $${t##*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

fuzz-targets:
	@echo $(FUZZ_TARGETS)
