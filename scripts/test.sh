#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest): a normal build, then the whole suite again
# under AddressSanitizer + UndefinedBehaviorSanitizer, then the libFuzzer targets for a
# short time each (clang). Exits non-zero on any failure.
#   scripts/test.sh            both passes
#   SOUK_SKIP_SANITIZE=1 ...   skip the sanitizer pass
#   SOUK_SKIP_FUZZ=1 ...       skip the libFuzzer pass (clang, ctest -L fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)
# A failed test is run once more (a deterministic failure fails twice): one kotlin_api
# hang was seen in CI and not reproduced in 31 repeats; the retry keeps such a flake from
# hiding the rest while it is investigated (ctest prints both attempts).
RETRY="--repeat until-pass:2"

bash scripts/setup.sh

echo "== build (RelWithDebInfo)"
# SOUK_TEST_UNSAFE_EARLY_ACK adds a second, test-only soukd that acks before the commit is
# durable: the fault checker's control run (fault.control) must catch it losing messages.
cmake -S . -B "$ROOT/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSOUK_TEST_UNSAFE_EARLY_ACK=ON >/dev/null
cmake --build "$ROOT/build-test" -j"$JOBS"
echo "== ctest"
(cd "$ROOT/build-test" && ctest --output-on-failure -j"$JOBS" --timeout 600 $RETRY)

if [ "${SOUK_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== build (address,undefined sanitizers)"
  cmake -S . -B "$ROOT/build-sanitize" -DCMAKE_BUILD_TYPE=Debug \
        -DSOUK_SANITIZE=address,undefined >/dev/null
  cmake --build "$ROOT/build-sanitize" -j"$JOBS"
  echo "== ctest (sanitizers)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd "$ROOT/build-sanitize" && ctest --output-on-failure -j"$JOBS" --timeout 900 $RETRY)
fi
if [ "${SOUK_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== build (clang, libFuzzer targets, address,undefined)"
  CC=clang cmake -S . -B "$ROOT/build-fuzz" -DCMAKE_BUILD_TYPE=Debug -DSOUK_FUZZ=ON \
        -DSOUK_SANITIZE=address,undefined -DSOUK_BUILD_SDK=OFF -DSOUK_BUILD_BENCH=OFF \
        -DSOUK_FUZZ_SECONDS="${SOUK_FUZZ_SECONDS:-15}" >/dev/null
  cmake --build "$ROOT/build-fuzz" -j"$JOBS"
  echo "== ctest -L fuzz (each target ${SOUK_FUZZ_SECONDS:-15} s)"
  (cd "$ROOT/build-fuzz" && ctest --output-on-failure -L fuzz -j1)
fi
echo "== all tests passed"
