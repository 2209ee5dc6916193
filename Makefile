# envcache — the two commands that matter are `make run` and `make test`.
# Both install what is missing (Debian 12, apt-get), then build.

SHELL := /bin/bash
JOBS ?= 2
CONFIG ?= config/envcache.yml

RELEASE_DIR := build/release
ASAN_DIR := build/asan
FUZZ_DIR := build/fuzz
# Seconds each fuzz target runs in `make fuzz`.
FUZZ_S ?= 60

BUILD_PACKAGES := g++ cmake make pkg-config ccache \
	libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
	libssl-dev ca-certificates liblmdb-dev libzstd-dev libyaml-cpp-dev catch2 libcrypt-dev
TEST_PACKAGES := docker-registry skopeo python3 openssl curl containerd podman apache2-utils
# libFuzzer and its sanitizers: Debian's clang with its runtime libraries.
FUZZ_PACKAGES := clang libclang-rt-14-dev
BENCH_PACKAGES := docker-registry nginx-light wrk skopeo python3 curl openssl apache2-utils

# Paths relative to the checkout in ccache's keys, and the build directory left out of them
# (debug builds would hash it), so a fresh clone elsewhere reuses the cache.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Installs only the packages that are missing, so a prepared machine never touches apt.
define install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || echo "$$p"; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps deps-test deps-fuzz deps-bench build build-asan build-fuzz run test fuzz bench \
	format clean

all: build

deps:
	$(call install_missing,$(BUILD_PACKAGES))

deps-test: deps
	$(call install_missing,$(TEST_PACKAGES))

deps-fuzz: deps
	$(call install_missing,$(FUZZ_PACKAGES))

deps-bench: deps
	$(call install_missing,$(BENCH_PACKAGES))

build: deps
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release -DENVCACHE_TESTS=OFF
	cmake --build $(RELEASE_DIR) -j$(JOBS)

build-asan: deps-test
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DENVCACHE_SANITIZE=ON -DENVCACHE_BENCH=OFF
	cmake --build $(ASAN_DIR) -j$(JOBS)

# The libFuzzer targets of tests/fuzz, built with clang (see tests/fuzz/CMakeLists.txt).
build-fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DENVCACHE_FUZZ=ON \
		-DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_DIR) -j$(JOBS)

run: build
	$(RELEASE_DIR)/proxy/envcache serve --config $(CONFIG)

# halt_on_error makes every sanitizer report fail the test that produced it.
test: build-asan
	cd $(ASAN_DIR) && \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ctest --output-on-failure -j$(JOBS)
	$(MAKE) --no-print-directory build-fuzz
	cd $(FUZZ_DIR) && ctest --output-on-failure -j$(JOBS)

# Each fuzz target for FUZZ_S seconds, one after the other, from its committed seeds and what
# earlier runs found (kept under $(FUZZ_DIR)/corpus, never committed by this). A crash stops
# the run; its input is left in $(FUZZ_DIR)/artifacts.
fuzz: build-fuzz
	@mkdir -p $(FUZZ_DIR)/artifacts $(FUZZ_DIR)/logs
	@for src in tests/fuzz/*.cpp; do \
		name=$$(basename $$src .cpp); log=$(FUZZ_DIR)/logs/$$name.log; \
		mkdir -p $(FUZZ_DIR)/corpus/$$name; \
		echo "fuzz_$$name: $(FUZZ_S) s (log: $$log)"; \
		if ! $(FUZZ_DIR)/tests/fuzz/fuzz_$$name -max_total_time=$(FUZZ_S) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$name- \
			$(FUZZ_DIR)/corpus/$$name tests/fuzz/corpus/$$name >$$log 2>&1; then \
			tail -n 60 $$log; exit 1; \
		fi; \
		grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' $$log; \
	done

bench: build deps-bench
	cmake -S . -B $(RELEASE_DIR) -DENVCACHE_BENCH=ON
	cmake --build $(RELEASE_DIR) -j$(JOBS)
	@echo "bench tools are in $(RELEASE_DIR)/bench; see bench/README.md"

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
