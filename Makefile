# The two entry points of the README. Each one installs what it needs first.
.PHONY: run test bootstrap build-debug build-release build-fuzz bench fuzz soak sim-soak format clean

run: build-release
	scripts/run_main_job.sh

test: build-debug build-fuzz
	ctest --preset debug
	ctest --preset fuzz

bootstrap:
	scripts/bootstrap.sh

build-debug: bootstrap
	cmake --preset debug
	cmake --build --preset debug

build-release: bootstrap
	cmake --preset release
	cmake --build --preset release

build-fuzz: bootstrap
	cmake --preset fuzz
	cmake --build --preset fuzz

# Every fuzz target for FUZZ_SECONDS each (default 300); fails on any finding.
fuzz: build-fuzz
	scripts/run_fuzzers.sh

# 2,000 random swarms with crashes, restarts and corrupt peers on the fake network.
soak: build-release
	SWARMLAB_SOAK_SEEDS=$${SOAK_SEEDS:-2000} build/release/tests/core_tests --gtest_filter='Soak.*'

# 200 random scenarios on ns-3 (churn, crashes, partitions, tracker restarts, liars).
sim-soak: build-release
	tests/sim/sim_soak.py --seeds 1-$${SIM_SOAK_SEEDS:-200}

bench: build-release
	scripts/run_benchmarks.sh

format:
	find core realnet sim emu tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
