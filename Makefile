# envcache — the two commands that matter are `make run` and `make test`.
# Both install what is missing (Debian 12, apt-get), then build.

SHELL := /bin/bash
JOBS ?= 2
CONFIG ?= config/envcache.yml

RELEASE_DIR := build/release
ASAN_DIR := build/asan

BUILD_PACKAGES := g++ cmake make pkg-config ccache \
	libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
	libssl-dev ca-certificates liblmdb-dev libzstd-dev libyaml-cpp-dev catch2
TEST_PACKAGES := docker-registry skopeo python3 openssl curl containerd podman
BENCH_PACKAGES := docker-registry nginx-light wrk skopeo python3 curl openssl

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

.PHONY: all deps deps-test deps-bench build build-asan run test bench format clean

all: build

deps:
	$(call install_missing,$(BUILD_PACKAGES))

deps-test: deps
	$(call install_missing,$(TEST_PACKAGES))

deps-bench: deps
	$(call install_missing,$(BENCH_PACKAGES))

build: deps
	cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release -DENVCACHE_TESTS=OFF
	cmake --build $(RELEASE_DIR) -j$(JOBS)

build-asan: deps-test
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DENVCACHE_SANITIZE=ON -DENVCACHE_BENCH=OFF
	cmake --build $(ASAN_DIR) -j$(JOBS)

run: build
	$(RELEASE_DIR)/proxy/envcache serve --config $(CONFIG)

# halt_on_error makes every sanitizer report fail the test that produced it.
test: build-asan
	cd $(ASAN_DIR) && \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ctest --output-on-failure -j$(JOBS)

bench: build deps-bench
	cmake -S . -B $(RELEASE_DIR) -DENVCACHE_BENCH=ON
	cmake --build $(RELEASE_DIR) -j$(JOBS)
	@echo "bench tools are in $(RELEASE_DIR)/bench; see bench/README.md"

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
