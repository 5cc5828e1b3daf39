#!/usr/bin/env bash
# test_install.sh -- installs splitee into a fresh prefix and uses it from an
# empty folder, the way someone who ran `meson install` would.
#   tests/test_install.sh SOURCE_ROOT BUILD_TREE_SPLITEE
# SOURCE_ROOT: the checkout; BUILD_TREE_SPLITEE: this build tree's splitee,
# whose replay JSON the installed one must reproduce.
#
# Steps, each of which fails the test:
#   1. meson setup TMP/build --prefix TMP/prefix from SOURCE_ROOT, build only
#      the library and the executable, meson install (--no-rebuild: the tests
#      and benchmarks of that tree are never built);
#   2. from an empty folder, with SPLITEE_DATA and SPLITEE_DATASETS unset:
#      the installed `splitee version`, `splitee replay` on the installed
#      clean table (JSON checked, and equal to the build tree's), `splitee
#      link` on an installed profile and the installed model;
#   3. examples/controller.c and examples/replay.c compiled there with
#      `cc $(pkg-config --cflags --libs splitee)` against TMP/prefix only
#      (-Wl,-rpath from pkg-config's libdir, so no LD_LIBRARY_PATH); the
#      controller must learn its layer, the replay example must find the
#      catalogue in TMP/prefix/share/splitee via splitee_catalog_load(NULL).
#
# Registered in tests/meson.build for builds without sanitizers only: the
# prefix is built from the source tree with default options whatever the
# outer build's, so the ASan/UBSan pass of tools/test.sh would repeat the
# identical work; the examples' code runs under the sanitizers as the
# example-* tests of examples/meson.build. Every step is bounded by
# `timeout`; the temporary folder is removed on any exit.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: tests/test_install.sh SOURCE_ROOT BUILD_TREE_SPLITEE" >&2; exit 2; }

src=$(cd "$1" && pwd)
tree_bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitee-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
# A user's shell: no data folder override, and no LD_LIBRARY_PATH (meson test
# points it at the build tree, which would hide a missing run path).
unset SPLITEE_DATA SPLITEE_DATASETS LD_LIBRARY_PATH

fail() { echo "test_install: $*" >&2; exit 1; }
step() { echo "== $*"; }

# ------------------------------------------------------------ 1. install ---
step "meson setup --prefix $prefix"
timeout 120 meson setup "$tmp/build" "$src" --prefix "$prefix" > "$tmp/setup.log" 2>&1 \
    || { cat "$tmp/setup.log" >&2; fail "meson setup failed"; }
step "build the library and the executable"
timeout 900 meson compile -C "$tmp/build" -j 2 splitee:shared_library splitee:executable \
    > "$tmp/compile.log" 2>&1 || { tail -n 40 "$tmp/compile.log" >&2; fail "build failed"; }
step "meson install"
timeout 120 meson install -C "$tmp/build" --no-rebuild > "$tmp/install.log" 2>&1 \
    || { tail -n 40 "$tmp/install.log" >&2; fail "meson install failed"; }

bin=$prefix/bin/splitee
data=$prefix/share/splitee
pc=$(find "$prefix" -name splitee.pc -path '*/pkgconfig/*' -print -quit)
[[ -x $bin ]] || fail "$bin was not installed"
[[ -n $pc ]] || fail "no splitee.pc under $prefix"
for f in catalog.json README.md fmnist-clean.npy fmnist-noise.npy fmnist-blur.npy \
         fmnist-contrast.npy fmnist-test-labels.npy model/model.json model/model.safetensors \
         model/fixture/inputs.npy model/fixture/logits.npy links/README.md links/lte.json \
         links/lte-trace.json links/lte-walk.trace links/lte-mahimahi.json links/lte-walk.up; do
    [[ -f $data/$f ]] || fail "$data/$f was not installed"
done
# Every file of the checkout's data/ is installed, byte for byte.
(cd "$src/data" && find . -type f | sort) > "$tmp/src-files"
(cd "$data" && find . -type f | sort) > "$tmp/inst-files"
diff "$tmp/src-files" "$tmp/inst-files" >&2 || fail "installed data folder differs from data/"
while read -r f; do
    cmp -s "$src/data/$f" "$data/$f" || fail "$data/$f differs from data/$f"
done < "$tmp/src-files"

# ----------------------------------------- 2. the CLI from an empty folder ---
work=$tmp/empty
mkdir "$work"
cd "$work"

step "splitee version"
out=$(timeout 30 "$bin" version) || fail "installed splitee version failed"
[[ $out == "splitee 0.1.0" ]] || fail "splitee version printed '$out'"
# The installed executable finds the installed library by its run path.
# (ldd's output is captured first: `ldd | grep -q` under pipefail fails
# whenever grep quits before ldd has written everything.)
libs=$(ldd "$bin") || fail "ldd $bin failed"
grep -q "libsplitee.so.* => $prefix/" <<< "$libs" \
    || { echo "$libs" >&2; fail "$bin does not load libsplitee from $prefix"; }

step "splitee replay on the installed clean table"
timeout 120 "$bin" replay --logits "$data/fmnist-clean.npy" --labels "$data/fmnist-test-labels.npy" \
    --reps 1 --quiet --json out.json || fail "installed splitee replay failed"
[[ -s out.json ]] || fail "splitee replay wrote no out.json"
for want in '"tool":	"splitee replay"' '"samples":	10000' '"layers":	12' '"best_layer":	1' \
            '"accuracy":	0.8859' '"policy":	"splitee-s"'; do
    grep -qF "$want" out.json || fail "out.json lacks $want"
done
# The same replay by the build tree's splitee (on the checkout's files):
# identical apart from the paths in "meta".
timeout 120 "$tree_bin" replay --logits "$src/data/fmnist-clean.npy" \
    --labels "$src/data/fmnist-test-labels.npy" --reps 1 --quiet --json tree.json \
    || fail "build tree's splitee replay failed"
strip_paths() { grep -vE '^		"(command|logits|labels|date)":' "$1"; }
diff <(strip_paths tree.json) <(strip_paths out.json) >&2 \
    || fail "installed splitee replay differs from the build tree's"
rm -f out.json tree.json

step "splitee link on an installed profile and model"
timeout 60 "$bin" link --link "$data/links/lte.json" --model "$data/model" > link.txt \
    || fail "installed splitee link failed"
grep -q "^model $data/model: 12 layers" link.txt || fail "splitee link: no model line"
grep -qE '^11 +16x64 +4144 +3 .* 0\.2689$' link.txt || fail "splitee link: layer 11 is not priced as in data/links/README.md"
rm -f link.txt

step "defaults from the installed catalogue, from an empty folder"
# no --logits, --labels or --model: the catalogue's default table, its
# labels and the shipped model, found under PREFIX/share/splitee
timeout 120 "$bin" replay --reps 1 --quiet --json d.json || fail "replay with its defaults failed"
grep -qF "\"logits\":	\"$data/fmnist-clean.npy\"" d.json && grep -qF '"accuracy":	0.8859' d.json \
    || fail "replay's defaults are not the installed clean table and its labels"
timeout 120 "$bin" replay --domain noise --reps 1 --quiet --json n.json || fail "replay --domain noise failed"
grep -qF "\"logits\":	\"$data/fmnist-noise.npy\"" n.json || fail "--domain noise is not the installed noise table"
timeout 60 "$bin" link --link lte > l.txt || fail "link --link lte (a profile name, the default model) failed"
grep -q "lte" l.txt || fail "link --link lte printed no lte profile"
# a table of one's own gets no shipped labels: no accuracy, said once
cp "$data/fmnist-clean.npy" mine.npy
timeout 120 "$bin" replay --logits mine.npy --reps 1 --quiet --json m.json 2> m.err || fail "replay of a copy failed"
[[ $(wc -l < m.err) -eq 1 ]] && grep -q "no labels" m.err || fail "own table: expected one note on stderr, got: $(cat m.err)"
grep -qF '"accuracy":	0.8859' m.json && fail "own table picked up the shipped labels"
rm -f d.json n.json l.txt mine.npy m.json m.err

# ------------------------------- 3. a user's program, linked by pkg-config ---
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs splitee) || fail "pkg-config --cflags --libs splitee failed"
libdir=$(pkg-config --variable=libdir splitee)
[[ $libdir == "$prefix"/* ]] || fail "pkg-config libdir $libdir is not under $prefix"
# Only the installed headers: the checkout's include/ is nowhere on the line.
[[ $flags != *"$src"* ]] || fail "pkg-config flags name the source tree: $flags"

for ex in controller replay; do
    step "cc examples/$ex.c \$(pkg-config --cflags --libs splitee)"
    # shellcheck disable=SC2086  # the flags are meant to split
    timeout 120 "$cc" -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" $flags \
        -Wl,-rpath,"$libdir" -o "$ex" || fail "examples/$ex.c does not build against $prefix"
    libs=$(ldd "./$ex") || fail "ldd $ex failed"
    grep -q "libsplitee.so.* => $libdir/" <<< "$libs" \
        || { echo "$libs" >&2; fail "$ex does not load libsplitee from $libdir"; }
done

step "./controller"
timeout 60 ./controller || fail "examples/controller.c did not learn its layer"

step "./replay (splitee_catalog_load(NULL, ...))"
timeout 120 ./replay > replay.txt || { cat replay.txt >&2; fail "examples/replay.c failed"; }
cat replay.txt
grep -qxF "data folder: $data" replay.txt || fail "replay example did not find $data"
grep -qF "table: $data/fmnist-clean.npy" replay.txt || fail "replay example: not the default table"

echo "test_install: ok"
