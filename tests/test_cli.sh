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

# --- a changing world: a domain shift mid-stream, and the forgetting policies
S="--shift 200:fixtures/ref-logits-shifted.npy --policies splitee,sw-ucb,d-ucb,oracle --window 100 --discount 0.99"
check shift $bin replay $T --reps 4 $S
check shift $bin replay $T --reps 4 ${S/200:/50%:}
echo '{"reps": 4, "shift": ["200:fixtures/ref-logits-shifted.npy"], "policies": "splitee,sw-ucb,d-ucb,oracle", "window": 100, "discount": 0.99}' > "$tmp/exp-shift.json"
check shift $bin replay --config "$tmp/exp-shift.json" $T
check shift $bin replay --config "$tmp/exp-shift.json" $T --shift 200:fixtures/ref-logits-shifted.npy
mkdir -p "$tmp/out"
if $bin replay $T --reps 2 $S --quiet $outs; then
    head -1 "$tmp/out/r.csv" | grep -q ',dynamic_pseudo_regret,' && ok || bad "csv lacks dynamic regret"
    head -1 "$tmp/out/c.csv" | grep -q ',dynamic_realized_regret_hi$' && ok || bad "curves lack dynamic regret"
    grep -q '"dynamic_pseudo_regret"' "$tmp/out/r.json" && grep -q '"segments"' "$tmp/out/r.json" \
        && ok || bad "json lacks segments or dynamic regret"
else bad "replay with a shift failed"; fi
if $bin replay $T --reps 2 --policies splitee --quiet $outs; then
    grep -q 'dynamic' "$tmp/out/r.csv" "$tmp/out/c.csv" "$tmp/out/r.json" && bad "dynamic regret without a shift" || ok
else bad "replay without a shift failed"; fi

# --- the same numbers whatever the thread count
a=$($bin replay $T --reps 6 --threads 1 --policies splitee,random,thompson,sw-ucb-s,d-ucb --shift 100:fixtures/ref-logits-shifted.npy)
b=$($bin replay $T --reps 6 --threads 2 --policies splitee,random,thompson,sw-ucb-s,d-ucb --shift 100:fixtures/ref-logits-shifted.npy)
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
refuse shift-syntax "--shift" $bin replay $T --shift 200 $outs
refuse shift-range "--shift: round 400" $bin replay $T --shift 400:fixtures/ref-logits-shifted.npy $outs
refuse shift-twice "two shifts" $bin replay $T --shift 100:fixtures/ref-logits.npy,25%:fixtures/ref-logits.npy $outs
refuse shift-missing "nosuch.npy" $bin replay $T --shift 100:$tmp/nosuch.npy $outs
refuse shift-shape "small.csv" $bin replay $T --shift 100:$tmp/small.csv --labels none $outs
refuse bad-window "--window" $bin replay $T --window 0 $outs
refuse bad-discount "--discount" $bin replay $T --discount 1.5 $outs

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
