#!/usr/bin/env bash
# Installs the Kotlin compiler used to build and test the Kotlin/JNI binding on the desktop
# JVM: the npm package kotlin-compiler, pinned (version and integrity hash) by
# bindings/android/tools/package.json and package-lock.json, into
# bindings/android/tools/node_modules (ignored by git). Its lib/ also ships
# kotlinx-coroutines-core-jvm, kotlin-stdlib and kotlin-test, so nothing else is fetched.
#
# Idempotent: does nothing when the pinned version is already there. Needs npm (Node.js)
# and a JDK 17, which scripts/setup.sh installs. Prints the compiler's home on stdout.
set -euo pipefail
TOOLS="$(cd "$(dirname "$0")/../tools" && pwd)"
HOME_DIR="$TOOLS/node_modules/kotlin-compiler"
want=$(sed -n 's/.*"kotlin-compiler": *"\([^"]*\)".*/\1/p' "$TOOLS/package.json")

installed() {
  [ -x "$HOME_DIR/bin/kotlinc" ] && [ "$(cat "$HOME_DIR/build.txt" 2>/dev/null)" = "$want" ] &&
    [ -f "$HOME_DIR/lib/kotlinx-coroutines-core-jvm.jar" ]
}

if ! installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-kotlin.sh: npm not found; run scripts/setup.sh (it installs Node.js and npm)" >&2
    exit 1
  fi
  # one installer at a time (two build directories may build the binding at once)
  exec 9>"$TOOLS/.install.lock"
  flock 9
  if ! installed; then
    echo "install-kotlin.sh: installing kotlin-compiler $want with npm" >&2
    ok=0
    for attempt in 1 2 3; do
      if (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >&2); then ok=1; break; fi
      echo "install-kotlin.sh: npm ci failed (attempt $attempt)" >&2
      sleep $((attempt * 5))
    done
    [ "$ok" = 1 ] && installed || { echo "install-kotlin.sh: could not install kotlin-compiler $want" >&2; exit 1; }
  fi
fi
echo "$HOME_DIR"
