#!/usr/bin/env bash
# plot.sh -- redraws the replay figures from saved CSV files, without
# rerunning the replay:
#   tools/plot.sh CURVES.csv PREFIX               -> PREFIX-regret.{svg,png}
#   tools/plot.sh CURVES.csv TABLE.csv PREFIX     -> also PREFIX-sweep.{svg,png}
# CURVES.csv comes from `splitee replay --curves`, TABLE.csv from `--csv`;
# a sweep's curves give one figure per setting (PREFIX-regret-o0.3.{svg,png}).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $# -lt 2 || $# -gt 3 ]]; then
    sed -n '2,7p' "$0" >&2
    exit 2
fi
bin="$here/build/splitee"
[[ -x "$bin" ]] || { "$here/tools/setup.sh" && "$here/tools/build.sh" build; }
if [[ $# -eq 2 ]]; then
    exec "$bin" plot --curves "$1" --out "$2"
fi
exec "$bin" plot --curves "$1" --table "$2" --out "$3"
