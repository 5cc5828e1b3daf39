#!/usr/bin/env bash
# test_cli.sh -- the splitee CLI against recorded expected outputs, and its
# promises on bad input: a one-line error naming the file, exit status 2,
# no output files. Runs from tests/ with the binary as $1.
#   SPLITEE_RECORD=1 tests/test_cli.sh build/splitee   re-records expected/
set -uo pipefail
bin="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check NAME CMD...: stdout must equal expected/NAME.txt
check() {
    local name="$1"; shift
    "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"
    local rc=$?
    if [[ -n "${SPLITEE_RECORD:-}" ]]; then cp "$tmp/out.txt" "expected/$name.txt"; fi
    if [[ $rc -ne 0 ]]; then bad "$name: exit $rc: $(cat "$tmp/err.txt")"; return; fi
    if diff -u "expected/$name.txt" "$tmp/out.txt" > "$tmp/diff.txt"; then ok
    else bad "$name: output differs"; head -40 "$tmp/diff.txt" >&2; fi
}

# refuse NAME PATTERN CMD...: exit 2, one stderr line matching PATTERN, no
# files left in $tmp/out/
refuse() {
    local name="$1" pattern="$2"; shift 2
    rm -rf "$tmp/out"; mkdir -p "$tmp/out"
    "$@" > /dev/null 2> "$tmp/err.txt"
    local rc=$?
    local lines; lines=$(wc -l < "$tmp/err.txt")
    if [[ $rc -ne 2 ]]; then bad "$name: exit $rc, expected 2 ($(cat "$tmp/err.txt"))"
    elif [[ $lines -ne 1 ]]; then bad "$name: $lines lines on stderr"; cat "$tmp/err.txt" >&2
    elif ! grep -q -- "$pattern" "$tmp/err.txt"; then bad "$name: '$(cat "$tmp/err.txt")' lacks '$pattern'"
    elif [[ -n "$(ls -A "$tmp/out")" ]]; then bad "$name: left files: $(ls "$tmp/out")"
    else ok; fi
}

T="--logits fixtures/ref-logits.npy --labels fixtures/ref-labels.npy --no-progress"
outs="--json $tmp/out/r.json --csv $tmp/out/r.csv --curves $tmp/out/c.csv --trace $tmp/out/t.csv"

# --- recorded outputs
check table $bin replay $T --reps 4 --policies splitee,splitee-s,final,oracle,fixed:3
check sweep $bin replay $T --reps 3 --policies splitee,final --offload 0.1:0.3:0.1 --alpha 0.7,0.8
check reference $bin replay $T --reference --reps 1 --policies splitee,splitee-s --alpha 0.75 --offload 0.5
check entropy $bin replay $T --reps 2 --policies splitee-s --confidence entropy --side-info reference
echo '{"reps": 4, "policies": ["splitee", "splitee-s", "final", "oracle", "fixed:3"], "alpha": 0.8}' > "$tmp/exp.json"
check table $bin replay --config "$tmp/exp.json" $T
echo '{"reps": 2, "policies": "splitee", "offload": [0.1, 0.3]}' > "$tmp/exp2.json"
check config-override $bin replay --config "$tmp/exp2.json" $T --reps 3

# --- the same numbers whatever the thread count
a=$($bin replay $T --reps 6 --threads 1 --policies splitee,random,thompson)
b=$($bin replay $T --reps 6 --threads 2 --policies splitee,random,thompson)
[[ "$a" == "$b" ]] && ok || bad "thread count changes results"

# --- reports are written, complete and parseable
mkdir -p "$tmp/out"
if $bin replay $T --reps 2 --policies splitee,final --quiet $outs; then
    [[ $(wc -l < "$tmp/out/t.csv") -eq 801 ]] && ok || bad "trace rows"
    [[ $(wc -l < "$tmp/out/r.csv") -eq 3 ]] && ok || bad "csv rows"
    [[ $(wc -l < "$tmp/out/c.csv") -eq 801 ]] && ok || bad "curves rows (400 checkpoints x 2 policies)"
    grep -q '"policy":	"splitee"' "$tmp/out/r.json" && ok || bad "json lacks policy"
else bad "replay with reports failed"; fi

# --- CSV input gives the same table as .npy
/usr/bin/env printf 'label,e1_c1,e1_c2,e2_c1,e2_c2\n0,2.0,0.1,3.0,-1.0\n1,0.2,0.1,0.1,2.5\n1,0.5,0.4,-1.0,1.5\n' > "$tmp/small.csv"
$bin replay --logits "$tmp/small.csv" --labels none --reps 2 --policies final --no-progress > /dev/null \
    && ok || bad "csv input"

# --- bad input: one line, exit 2, no files
printf 'not numpy at all' > "$tmp/garbage.npy"
head -c 200 fixtures/ref-logits.npy > "$tmp/trunc.npy"
refuse missing-file "nosuch.npy" $bin replay --logits "$tmp/nosuch.npy" $outs
refuse bad-magic "garbage.npy" $bin replay --logits "$tmp/garbage.npy" --labels fixtures/ref-labels.npy $outs
refuse truncated "trunc.npy" $bin replay --logits "$tmp/trunc.npy" --labels fixtures/ref-labels.npy $outs
refuse labels-mismatch "bad-labels-count.npy" $bin replay --logits fixtures/ref-logits.npy --labels fixtures/bad-labels-count.npy $outs
refuse unknown-option "--bogus" $bin replay $T --bogus 3 $outs
refuse bad-policy "nosuch" $bin replay $T --policies splitee,nosuch $outs
refuse fixed-range "fixed" $bin replay $T --policies fixed:13 $outs
refuse bad-range "--offload" $bin replay $T --offload 0.5:0.1:0.1 $outs
refuse bad-alpha "alpha" $bin replay $T --alpha 1.5 $outs
refuse bad-config "exp-bad.json" bash -c "echo '{\"reps\": ' > $tmp/exp-bad.json; $bin replay --config $tmp/exp-bad.json $T $outs"
refuse unknown-config-key "colour" bash -c "echo '{\"colour\": 3}' > $tmp/exp-key.json; $bin replay --config $tmp/exp-key.json $T $outs"
refuse layer-cost-shape "layer-cost" $bin replay $T --layer-cost 0.1,0.2 $outs
refuse unknown-command "frobnicate" $bin frobnicate

# --- link-cost simulator: splitee link and replay --link (docs/LINKS.md)
LK=../data/links
check link-lte $bin link --link $LK/lte.json --model ../data/model
check link-lte-ge $bin link --link $LK/lte-ge.json --model ../data/model --encoding f16 --raw-input --at 5 --draws 200
check link-degrading $bin link --link $LK/degrading.json --model ../data/model --at 600 --encoding int8
check replay-link $bin replay $T --reps 3 --policies splitee,splitee-s,final,oracle,fixed:3 --link $LK/degrading.json --arrival-ms 2000
a=$($bin replay $T --reps 4 --threads 1 --policies splitee,thompson --link $LK/lte-ge.json)
b=$($bin replay $T --reps 4 --threads 2 --policies splitee,thompson --link $LK/lte-ge.json)
[[ "$a" == "$b" ]] && ok || bad "thread count changes results with --link"
echo '{"uplink_mbps": -3, "downlink_mbps": 1, "rtt_ms": 5}' > "$tmp/neg.json"
printf '0 5\n1 fast\n' > "$tmp/bad.trace"
echo '{"downlink_mbps": 1, "rtt_ms": 5, "trace": {"file": "bad.trace"}}' > "$tmp/badtrace.json"
refuse link-no-profile "--link PROFILE is required" $bin link --model ../data/model
refuse link-missing-profile "nosuch.json" $bin link --link "$tmp/nosuch.json" --model ../data/model
refuse link-negative "neg.json: uplink_mbps must be > 0" $bin link --link "$tmp/neg.json" --model ../data/model
refuse link-bad-trace "bad.trace:2:" $bin link --link "$tmp/badtrace.json" --model ../data/model
refuse link-bad-encoding "f64" $bin link --link $LK/lte.json --model ../data/model --encoding f64
refuse replay-link-negative "neg.json" $bin replay $T --link "$tmp/neg.json" $outs
refuse replay-link-offload "--link replaces --offload" $bin replay $T --link $LK/lte.json --offload 0.2 $outs
refuse replay-link-arrival "--arrival-ms" $bin replay $T --link $LK/lte.json --arrival-ms -5 $outs

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
