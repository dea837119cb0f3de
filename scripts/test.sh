#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest): a normal build, then the whole suite again
# under AddressSanitizer + UndefinedBehaviorSanitizer. Exits non-zero on any failure.
#   scripts/test.sh            both passes
#   SOUK_SKIP_SANITIZE=1 ...   the normal pass only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)

bash scripts/setup.sh

echo "== build (RelWithDebInfo)"
cmake -S . -B "$ROOT/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build-test" -j"$JOBS"
echo "== ctest"
(cd "$ROOT/build-test" && ctest --output-on-failure -j"$JOBS" --timeout 600)

if [ "${SOUK_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== build (address,undefined sanitizers)"
  cmake -S . -B "$ROOT/build-sanitize" -DCMAKE_BUILD_TYPE=Debug \
        -DSOUK_SANITIZE=address,undefined >/dev/null
  cmake --build "$ROOT/build-sanitize" -j"$JOBS"
  echo "== ctest (sanitizers)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd "$ROOT/build-sanitize" && ctest --output-on-failure -j"$JOBS" --timeout 900)
fi
echo "== all tests passed"
