#!/usr/bin/env bash
# Builds the Android binding's Kotlin and JNI sources for the desktop JVM, to test them here
# against a real soukd (tests/bindings/CMakeLists.txt runs this as the ctest fixture
# kotlin_build). The very same files the Gradle module compiles for Android:
#   src/main/cpp        -> OUT/jni/libsoukjni.so, with CMake, against libsouk installed from
#                          the main build (cmake --install BUILD --component sdk)
#   src/main/kotlin     -> OUT/lib/souk-android.jar   (kotlinc, -Werror), with SoukVersion.kt
#                          generated from sdk/include/souk/version.h (scripts/gen-version.sh)
#   src/test/kotlin     -> OUT/lib/souk-android-tests.jar
# plus the runtime jars (kotlin-stdlib, kotlinx-coroutines-core-jvm, kotlin-test) in OUT/lib.
# Run a test:  java -Djava.library.path=OUT/jni -cp "OUT/lib/*" io.souk.test.MainKt NAME
#
#   build-jvm.sh BUILD_DIR OUT_DIR
#
# Installs the Kotlin compiler first if needed (install-kotlin.sh: npm). Needs a JDK 17
# (scripts/setup.sh). Skips the Kotlin compilation when no source changed since the last run.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
HERE="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "$1" && pwd)"
mkdir -p "$2"
OUT="$(cd "$2" && pwd)"

if ! command -v javac >/dev/null 2>&1; then
  echo "build-jvm.sh: no JDK (javac) found; run scripts/setup.sh" >&2
  exit 1
fi
export JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
KOTLIN_HOME="$(bash "$HERE/scripts/install-kotlin.sh")"
KLIB="$KOTLIN_HOME/lib"
JOBS="${SOUK_JOBS:-2}"

echo "== libsouk (installed from $BUILD)"
rm -rf "$OUT/prefix" # no file of an earlier install may linger (an old libsouk.so.0 link)
cmake --install "$BUILD" --prefix "$OUT/prefix" --component sdk >/dev/null

echo "== libsoukjni"
cmake -S "$HERE/src/main/cpp" -B "$OUT/jni-build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER="${CC:-cc}" -Dsouk_DIR="$OUT/prefix/lib/cmake/souk" \
      -DCMAKE_C_FLAGS="-Werror" >/dev/null
cmake --build "$OUT/jni-build" -j"$JOBS"
mkdir -p "$OUT/jni" "$OUT/lib"
cp -f "$OUT/jni-build/libsoukjni.so" "$OUT/jni/"

echo "== Kotlin"
# the version the load-time check expects, from the same header libsoukjni is built with
GEN="$OUT/generated"
mkdir -p "$GEN"
bash "$HERE/scripts/gen-version.sh" "$HERE/../../sdk/include/souk/version.h" "$GEN/SoukVersion.kt"
cp -f "$KLIB/kotlin-stdlib.jar" "$KLIB/kotlinx-coroutines-core-jvm.jar" "$KLIB/kotlin-test.jar" "$OUT/lib/"
stamp=$( (cat "$KOTLIN_HOME/build.txt"; find "$HERE/src/main/kotlin" "$HERE/src/test/kotlin" "$GEN" -name '*.kt' \
          -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/lib/souk-android-tests.jar" ] && [ "$(cat "$OUT/kotlin.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "Kotlin sources unchanged: keeping $OUT/lib/*.jar"
  exit 0
fi
rm -f "$OUT/kotlin.stamp"
KOTLINC=("$KOTLIN_HOME/bin/kotlinc" -jvm-target 17 -Werror -no-reflect -J-Xmx1g)
"${KOTLINC[@]}" -module-name souk-android -cp "$KLIB/kotlinx-coroutines-core-jvm.jar" \
  -d "$OUT/lib/souk-android.jar" "$HERE/src/main/kotlin" "$GEN/SoukVersion.kt"
"${KOTLINC[@]}" -module-name souk-android-tests \
  -cp "$OUT/lib/souk-android.jar:$KLIB/kotlinx-coroutines-core-jvm.jar:$KLIB/kotlin-test.jar" \
  -Xfriend-paths="$OUT/lib/souk-android.jar" \
  -d "$OUT/lib/souk-android-tests.jar" "$HERE/src/test/kotlin"
echo "$stamp" > "$OUT/kotlin.stamp"
echo "built $OUT/lib/souk-android.jar, $OUT/lib/souk-android-tests.jar, $OUT/jni/libsoukjni.so"
