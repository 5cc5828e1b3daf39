#!/usr/bin/env bash
# build.sh -- configures (once) and builds splitee with meson and ninja.
#   tools/build.sh [BUILDDIR] [meson setup options...]
# BUILDDIR defaults to build/. Prints nothing but errors when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
if [[ ! -f "$dir/build.ninja" ]]; then
    meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
