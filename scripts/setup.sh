#!/usr/bin/env bash
# Installs every Debian package ScaleKit builds, tests and benchmarks with.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

PACKAGES=(
  pkg-config
  libhiredis-dev libssl-dev libpq-dev libsqlite3-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  redis-server redis-tools postgresql pgbouncer openssl
  ffmpeg espeak-ng time python3-venv
  stress-ng
  faketime
  iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "[setup] all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "[setup] installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[setup] done"
