#!/usr/bin/env bash
# Builds Souk.xcframework (bindings/apple/Souk.xcframework): libsouk as one static library per
# platform, with its dependencies linked in and only the souk_* API exported, plus the public
# headers and the CSouk module map. Package.swift uses it when it exists.
#
# RUN ON macOS WITH XCODE. NOT RUN where this repository is developed (no Apple toolchain).
#
#   SOUK_APPLE_DEPS=/path/to/deps bindings/apple/scripts/build-xcframework.sh
#
# SOUK_APPLE_DEPS holds libsouk's dependencies built as static libraries for each slice:
#   $SOUK_APPLE_DEPS/<slice>/{lib/libsqlcipher.a, lib/libwebsockets.a, lib/libssl.a,
#                             lib/libcrypto.a, lib/libprotobuf-c.a, lib/pkgconfig/*.pc, include/}
# with <slice> one of ios-arm64, ios-simulator-arm64_x86_64, macos-arm64_x86_64 (fat
# libraries for the two-architecture slices). SQLCipher with CommonCrypto
# (-DSQLCIPHER_CRYPTO_CC, so it links Security.framework) avoids a second OpenSSL use;
# libwebsockets 4.1 with LWS_WITH_SSL against the same OpenSSL.
#
# Why one prelinked object per slice: the app may link its own SQLite, OpenSSL or protobuf-c.
# `ld -r -exported_symbols_list` resolves libsouk against its private copies and hides every
# symbol but souk_* — the static-library equivalent of libsouk.map on Linux. Without it, the
# app's SQLite and the bundled SQLCipher would collide (docs/sdk.md: never both).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DEPS="${SOUK_APPLE_DEPS:?set SOUK_APPLE_DEPS (see the header of this script)}"
WORK="${WORK:-$HERE/.xcframework-build}"
OUT="$HERE/Souk.xcframework"
[ "$(uname)" = Darwin ] || { echo "build-xcframework.sh: run it on macOS with Xcode" >&2; exit 1; }

rm -rf "$WORK" "$OUT"
mkdir -p "$WORK"
# only the public API: the patterns of libsouk.map's global section (Apple's ld accepts the
# same wildcards), with the leading underscore of Mach-O symbol names
sed -n '/global:/,/local:/p' "$ROOT/sdk/libsouk.map" | grep -o 'souk_[a-z0-9_*]*' |
  sed 's/^/_/' > "$WORK/exports.txt"

build_slice() { # slice sdk archs deployment-flag
  local slice=$1 sdk=$2 archs=$3 system=$4 min=$5
  local b="$WORK/$slice"
  cmake -S "$ROOT" -B "$b/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_SYSTEM_NAME="$system" -DCMAKE_OSX_SYSROOT="$sdk" \
    -DCMAKE_OSX_ARCHITECTURES="$archs" -DCMAKE_OSX_DEPLOYMENT_TARGET="$min" \
    -DSOUK_BUILD_SERVER=OFF -DSOUK_BUILD_TESTS=OFF -DSOUK_BUILD_SAMPLES=OFF -DSOUK_BUILD_BENCH=OFF \
    -DCMAKE_FIND_ROOT_PATH="$DEPS/$slice" \
    -DPKG_CONFIG_EXECUTABLE="$(command -v pkg-config)" \
    -DCMAKE_PREFIX_PATH="$DEPS/$slice"
  PKG_CONFIG_LIBDIR="$DEPS/$slice/lib/pkgconfig" cmake --build "$b/build" --target souk_static souk_wire
  local libs=("$b/build/sdk/libsouk_static.a" "$b/build/proto/libsouk_wire.a"
              "$DEPS/$slice/lib/libsqlcipher.a" "$DEPS/$slice/lib/libwebsockets.a"
              "$DEPS/$slice/lib/libssl.a" "$DEPS/$slice/lib/libcrypto.a"
              "$DEPS/$slice/lib/libprotobuf-c.a")
  local objs=()
  for arch in ${archs//;/ }; do
    local forced=()
    for l in "${libs[@]}"; do forced+=(-force_load "$l"); done
    xcrun --sdk "$sdk" ld -r -arch "$arch" -exported_symbols_list "$WORK/exports.txt" \
      -o "$b/souk-$arch.o" "${forced[@]}"
    objs+=("$b/souk-$arch.o")
  done
  mkdir -p "$b/lib"
  if [ "${#objs[@]}" -gt 1 ]; then xcrun lipo -create "${objs[@]}" -output "$b/souk.o"; else cp "${objs[0]}" "$b/souk.o"; fi
  xcrun libtool -static -o "$b/lib/libsouk.a" "$b/souk.o"
  mkdir -p "$b/Headers/souk"
  cp "$ROOT"/sdk/include/souk/*.h "$b/Headers/souk/"
  cp "$HERE/xcframework/module.modulemap" "$b/Headers/module.modulemap"
}

build_slice ios-arm64 iphoneos arm64 iOS 15.0
build_slice ios-simulator-arm64_x86_64 iphonesimulator "arm64;x86_64" iOS 15.0
build_slice macos-arm64_x86_64 macosx "arm64;x86_64" Darwin 12.0

xcodebuild -create-xcframework \
  -library "$WORK/ios-arm64/lib/libsouk.a" -headers "$WORK/ios-arm64/Headers" \
  -library "$WORK/ios-simulator-arm64_x86_64/lib/libsouk.a" -headers "$WORK/ios-simulator-arm64_x86_64/Headers" \
  -library "$WORK/macos-arm64_x86_64/lib/libsouk.a" -headers "$WORK/macos-arm64_x86_64/Headers" \
  -output "$OUT"
echo "built $OUT"
