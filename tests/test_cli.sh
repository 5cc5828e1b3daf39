#!/usr/bin/env bash
# test_cli.sh -- the splitee CLI against recorded expected outputs, and its
# promises on bad input: a one-line error naming the file, exit status 2,
# no output files. Runs from tests/ with the binary as $1 and the table
# comparer (tests/npycmp.c) as $2.
#   cd tests && SPLITEE_RECORD=1 ./test_cli.sh ../build/splitee ../build/tests/npycmp
# re-records expected/
set -uo pipefail
bin="$1"
npycmp="${2:-../build/tests/npycmp}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check NAME CMD...: stdout must equal expected/NAME.txt (lines matching
# $skip, if set, are left out of the comparison: machine-dependent digits)
skip=""
check() {
    local name="$1"; shift
    "$@" > "$tmp/raw.txt" 2> "$tmp/err.txt"
    local rc=$?
    if [[ -n "$skip" ]]; then grep -v -- "$skip" "$tmp/raw.txt" > "$tmp/out.txt"
    else cp "$tmp/raw.txt" "$tmp/out.txt"; fi
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

# --- the inference engine commands (logits, infer, profile) on the first 16
# Fashion-MNIST test images (fixtures/fmnist16-*, IDX; the images gzipped)
M="--model ../data/model"
I="--images fixtures/fmnist16-images-idx3-ubyte.gz"
Y="--labels fixtures/fmnist16-labels-idx1-ubyte"
mkdir -p "$tmp/e"
# parity: the same 16 images PyTorch's fixture logits were made from
if $bin logits $M $I $Y --labels-out "$tmp/e/y.npy" --out "$tmp/e/l1.npy" --threads 1 --no-progress; then
    "$npycmp" "$tmp/e/l1.npy" ../data/model/fixture/logits.npy --tol 1e-4 --quiet > "$tmp/cmp.txt" \
        && ok || bad "logits: C engine differs from PyTorch's fixture logits: $(cat "$tmp/cmp.txt")"
    [[ $(stat -c %s "$tmp/e/y.npy") -eq $((128 + 16 * 8)) ]] && ok || bad "labels-out size"
    $bin logits $M $I --out "$tmp/e/l3.npy" --threads 3 --no-progress \
        && cmp -s "$tmp/e/l1.npy" "$tmp/e/l3.npy" && ok || bad "logits: thread count changes the table"
    $bin logits $M $I --limit 5 --out "$tmp/e/l5.npy" --no-progress \
        && "$npycmp" "$tmp/e/l5.npy" "$tmp/e/l5.npy" --quiet | grep -q '^(5, 12, 10)' && ok || bad "logits --limit"
    $bin replay --logits "$tmp/e/l1.npy" --labels "$tmp/e/y.npy" --reps 1 --policies final --quiet \
        && ok || bad "replay does not read the table logits wrote"
else bad "logits on the fixture images failed"; fi
# a shipped domain is its distortion with the shipped parameters
$bin logits $M $I --domain noise --out "$tmp/e/n1.npy" --no-progress
$bin logits $M $I --distort noise:0.2 --seed 20231101 --out "$tmp/e/n2.npy" --no-progress
cmp -s "$tmp/e/n1.npy" "$tmp/e/n2.npy" && ok || bad "--domain noise != --distort noise:0.2 --seed 20231101"
$bin logits $M $I --distort noise:0.2 --seed 7 --out "$tmp/e/n3.npy" --no-progress
cmp -s "$tmp/e/n1.npy" "$tmp/e/n3.npy" && bad "--seed does not change the noise" || ok

skip="max |final logit"
check infer-f32 $bin infer $M $I $Y --split 2
check infer-int8 $bin infer $M $I $Y --split 2 --encoding int8 --domain blur
check infer-entropy $bin infer $M $I $Y --split 1 --alpha 0.8 --confidence entropy --encoding f16
check infer-final $bin infer $M $I $Y --split 12
skip=""
$bin infer $M $I $Y --split 3 --json "$tmp/e/i.json" > /dev/null \
    && grep -q '"payload_bytes_per_offload":	4120' "$tmp/e/i.json" && ok || bad "infer --json"

# profile: timings vary, the file's structure does not; replay takes it
if $bin profile $M --runs 5 --warmup 1 --out "$tmp/e/p.json" > /dev/null; then
    for key in '"format":	"splitee-device-profile"' '"units":	"ms"' '"layer_cost":	\[' \
               '"embed":' '"exit_head":' '"cpu":' '"date":' '"threads":	1' '"runs":	5'; do
        grep -q "$key" "$tmp/e/p.json" && ok || bad "profile JSON lacks $key"
    done
    $bin replay $T --layer-cost "$tmp/e/p.json" --reps 1 --policies final --quiet && ok || bad "replay refuses the profile"
else bad "profile failed"; fi
$bin profile $M $I --runs 3 --warmup 0 --normalise 0.1 --out "$tmp/e/p2.json" > /dev/null \
    && grep -q '"units":	"normalised"' "$tmp/e/p2.json" && ok || bad "profile --normalise"
cat > "$tmp/e/hand.json" <<'JSON'
{"format": "splitee-device-profile", "version": 1, "units": "ms",
 "layer_cost": [0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}
JSON
check profile-replay $bin replay $T --layer-cost "$tmp/e/hand.json" --reps 2 --policies splitee,final,fixed:2

# bad input: one line, exit 2, no files
head -c 3000 fixtures/fmnist16-images-idx3-ubyte.gz > "$tmp/trunc-images.gz"
printf 'not an idx file' > "$tmp/garbage-images"
printf '\x00\x00\x08\x01\x00\x00\x00\x0f%015d' 0 > "$tmp/labels15"
LO="--out $tmp/out/x.npy"
refuse logits-no-model "nomodel" $bin logits --model "$tmp/nomodel" $I $LO
refuse logits-truncated-gz "trunc-images.gz" $bin logits $M --images "$tmp/trunc-images.gz" $LO
refuse logits-garbage-idx "garbage-images" $bin logits $M --images "$tmp/garbage-images" $LO
refuse logits-missing-images "nosuch-images" $bin logits $M --images "$tmp/nosuch-images" $LO
refuse logits-label-count "labels15" $bin logits $M $I --labels "$tmp/labels15" --labels-out "$tmp/out/y.npy" $LO
refuse logits-no-out "--out" $bin logits $M $I
refuse logits-bad-distort "--distort" $bin logits $M $I --distort wobble:1 $LO
refuse logits-negative-blur "--distort" $bin logits $M $I --distort blur:-1 $LO
refuse logits-distort-no-level "--distort" $bin logits $M $I --distort noise $LO
refuse logits-two-domains "--distort" $bin logits $M $I --domain blur --distort noise:0.1 $LO
refuse logits-bad-domain "--domain" $bin logits $M $I --domain fog $LO
refuse logits-bad-threads "--threads" $bin logits $M $I --threads -1 $LO
refuse infer-split-high "--split" $bin infer $M $I $Y --split 13 --json "$tmp/out/i.json"
refuse infer-split-zero "--split" $bin infer $M $I $Y --split 0 --json "$tmp/out/i.json"
refuse infer-no-split "--split" $bin infer $M $I $Y --json "$tmp/out/i.json"
refuse infer-no-labels "--labels" $bin infer $M $I --split 3 --json "$tmp/out/i.json"
refuse infer-bad-encoding "--encoding" $bin infer $M $I $Y --split 3 --encoding bf16 --json "$tmp/out/i.json"
refuse infer-bad-alpha "--alpha" $bin infer $M $I $Y --split 3 --alpha 2 --json "$tmp/out/i.json"
refuse infer-no-model "nomodel" $bin infer --model "$tmp/nomodel" $I $Y --split 3 --json "$tmp/out/i.json"
refuse profile-no-model "nomodel" $bin profile --model "$tmp/nomodel" --out "$tmp/out/p.json"
refuse profile-bad-runs "--runs" $bin profile $M --runs 0 --out "$tmp/out/p.json"
refuse profile-bad-normalise "--normalise" $bin profile $M --normalise -1 --out "$tmp/out/p.json"
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

# --- figures: one regret figure per setting, the same names from replay
# --plot and from `splitee plot` on its CSV files (needs gnuplot)
if command -v gnuplot > /dev/null; then
    rm -rf "$tmp/fig"; mkdir -p "$tmp/fig"
    if $bin replay $T --reps 2 --policies splitee,oracle --offload 0.1,0.3 --quiet \
            --plot "$tmp/fig/r" --csv "$tmp/fig/t.csv" --curves "$tmp/fig/c.csv" &&
       $bin plot --curves "$tmp/fig/c.csv" --table "$tmp/fig/t.csv" --out "$tmp/fig/p"; then
        got=$(cd "$tmp/fig" && ls | tr '\n' ' ')
        want="c.csv p-regret-o0.1.png p-regret-o0.1.svg p-regret-o0.3.png p-regret-o0.3.svg p-sweep.png p-sweep.svg r-regret-o0.1.png r-regret-o0.1.svg r-regret-o0.3.png r-regret-o0.3.svg r-sweep.png r-sweep.svg t.csv "
        [[ "$got" == "$want" ]] && ok || bad "figures: got '$got'"
    else bad "replay --plot / plot of a sweep failed"; fi
    # --layer-cost leaves lambda empty in the CSV; plot still reads it
    if $bin replay $T --reps 1 --policies splitee --layer-cost "$tmp/e/hand.json" --quiet \
            --curves "$tmp/fig/lc.csv" && $bin plot --curves "$tmp/fig/lc.csv" --out "$tmp/fig/lc"; then
        sed -n 2p "$tmp/fig/lc.csv" | grep -q '^0\.8,,1,0\.3,1,splitee,' && [[ -s "$tmp/fig/lc-regret.png" ]] \
            && ok || bad "layer-cost curves: $(sed -n 2p "$tmp/fig/lc.csv" | cut -c1-40)"
    else bad "plot of --layer-cost curves failed"; fi
    refuse plot-no-folder "nosuch/f-regret.svg: cannot write" $bin plot --curves "$tmp/fig/lc.csv" --out "$tmp/out/nosuch/f"
fi

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
