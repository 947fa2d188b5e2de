# The two commands a user needs: `make demo` (the main job on the built-in dataset) and `make test`.
# Each installs what is missing first (scripts/bootstrap.sh), then configures and builds.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all build test test-unit demo bench fuzz asan tsan format clean

all: build

build:
	@scripts/build.sh $(BUILD) $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# The demo runs the executable only: the tests (the larger half of a fresh build) wait for `make test`.
demo:
	@scripts/build.sh $(BUILD) $(JOBS) forensight
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

# libFuzzer targets (fuzz/, clang, build-fuzz): each runs FUZZ_SECONDS; `make fuzz FUZZ_SECONDS=600`
# is the long run docs/RELIABILITY.md records, FUZZ_TARGETS="config split" picks targets.
FUZZ_SECONDS ?= 45
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Sanitizer builds (scripts/sanitize.sh, gcc, build-asan and build-tsan; not part of `make test`:
# each build takes most of an hour on 2 cores). asan: ASan + UBSan over every unit test; tsan:
# ThreadSanitizer over the loader, distributed, pipeline and service concurrency tests.
asan:
	@JOBS=$(JOBS) scripts/sanitize.sh address

tsan:
	@JOBS=$(JOBS) scripts/sanitize.sh thread

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
