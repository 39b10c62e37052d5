# The two entry points of the README. Each one installs what it needs first.
.PHONY: run test bootstrap build-debug build-release bench format clean

run: build-release
	scripts/run_main_job.sh

test: build-debug
	ctest --preset debug

bootstrap:
	scripts/bootstrap.sh

build-debug: bootstrap
	cmake --preset debug
	cmake --build --preset debug

build-release: bootstrap
	cmake --preset release
	cmake --build --preset release

bench: build-release
	scripts/run_benchmarks.sh

format:
	find core realnet sim tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
