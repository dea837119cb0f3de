#!/usr/bin/env bash
# Installs every build and test dependency of Souk on Debian 12 (bookworm).
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  clang clang-format libclang-rt-14-dev llvm
  libwebsockets-dev libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev sqlite3 libsqlcipher-dev
  libssl-dev openssl libjwt-dev libjansson-dev libcmocka-dev libpq-dev
  python3 python3-protobuf protobuf-compiler python3-websocket python3-jwt python3-cryptography
  curl procps
  # bindings: JDK 17 for the Kotlin/JNI binding on the desktop JVM (kotlinc comes from npm:
  # bindings/android/scripts/install-kotlin.sh, run by ctest's kotlin_build)
  openjdk-17-jdk-headless
  # bench/: Mosquitto (broker + client library) for the side-by-side figures
  mosquitto libmosquitto-dev
  # soukd and bench/souk_loadgen run libwebsockets on libuv (event_loop "epoll"): the
  # library and lws' libuv plugin (both come with libwebsockets-dev today)
  libuv1-dev libwebsockets-evlib-uv
)
# npm for the Kotlin compiler; a machine whose Node.js already ships npm keeps it
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup.sh: run as root (or install sudo)" >&2; exit 1
  fi
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all build and test dependencies present"
fi
