#!/usr/bin/env bash
# test_cli.sh -- the splitee CLI against recorded expected outputs, and its
# promises on bad input: a one-line error naming the file, exit status 2,
# no output files. Runs from tests/ with the binary as $1 and the table
# comparer (tests/npycmp.c) as $2.
#   cd tests && SPLITEE_RECORD=1 ./test_cli.sh ../build/splitee ../build/tests/npycmp
# re-records expected/
set -uo pipefail
bin="$(realpath "$1")"
npycmp="$(realpath "${2:-../build/tests/npycmp}")"
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
check table $bin replay $T --reps 4 --policy splitee,splitee-s,final,oracle,fixed:3
# the old spelling --policies still works, on the command line and in a config
check table $bin replay $T --reps 4 --policies splitee,splitee-s,final,oracle,fixed:3
check sweep $bin replay $T --reps 3 --policy splitee,final --offload 0.1:0.3:0.1 --alpha 0.7,0.8
check reference $bin replay $T --reference --reps 1 --policy splitee,splitee-s --alpha 0.75 --offload 0.5
check entropy $bin replay $T --reps 2 --policy splitee-s --confidence entropy --side-info reference
echo '{"reps": 4, "policies": ["splitee", "splitee-s", "final", "oracle", "fixed:3"], "alpha": 0.8}' > "$tmp/exp.json"
check table $bin replay --config "$tmp/exp.json" $T
echo '{"reps": 2, "policy": "splitee", "offload": [0.1, 0.3]}' > "$tmp/exp2.json"
check config-override $bin replay --config "$tmp/exp2.json" $T --reps 3

# --- a changing world: a domain shift mid-stream, and the forgetting policies
S="--shift 200:fixtures/ref-logits-shifted.npy --policy splitee,sw-ucb,d-ucb,oracle --window 100 --discount 0.99"
check shift $bin replay $T --reps 4 $S
check shift $bin replay $T --reps 4 ${S/200:/50%:}
echo '{"reps": 4, "shift": ["200:fixtures/ref-logits-shifted.npy"], "policy": "splitee,sw-ucb,d-ucb,oracle", "window": 100, "discount": 0.99}' > "$tmp/exp-shift.json"
check shift $bin replay --config "$tmp/exp-shift.json" $T
check shift $bin replay --config "$tmp/exp-shift.json" $T --shift 200:fixtures/ref-logits-shifted.npy
mkdir -p "$tmp/out"
if $bin replay $T --reps 2 $S --quiet $outs; then
    head -1 "$tmp/out/r.csv" | grep -q ',dynamic_pseudo_regret,' && ok || bad "csv lacks dynamic regret"
    head -1 "$tmp/out/c.csv" | grep -q ',dynamic_realized_regret_hi$' && ok || bad "curves lack dynamic regret"
    grep -q '"dynamic_pseudo_regret"' "$tmp/out/r.json" && grep -q '"segments"' "$tmp/out/r.json" \
        && ok || bad "json lacks segments or dynamic regret"
else bad "replay with a shift failed"; fi
if $bin replay $T --reps 2 --policy splitee --quiet $outs; then
    grep -q 'dynamic' "$tmp/out/r.csv" "$tmp/out/c.csv" "$tmp/out/r.json" && bad "dynamic regret without a shift" || ok
else bad "replay without a shift failed"; fi

# --- the same numbers whatever the thread count
a=$($bin replay $T --reps 6 --threads 1 --policy splitee,random,thompson,sw-ucb-s,d-ucb --shift 100:fixtures/ref-logits-shifted.npy)
b=$($bin replay $T --reps 6 --threads 2 --policy splitee,random,thompson,sw-ucb-s,d-ucb --shift 100:fixtures/ref-logits-shifted.npy)
[[ "$a" == "$b" ]] && ok || bad "thread count changes results"

# --- reports are written, complete and parseable
mkdir -p "$tmp/out"
if $bin replay $T --reps 2 --policy splitee,final --quiet $outs; then
    [[ $(wc -l < "$tmp/out/t.csv") -eq 801 ]] && ok || bad "trace rows"
    [[ $(wc -l < "$tmp/out/r.csv") -eq 3 ]] && ok || bad "csv rows"
    [[ $(wc -l < "$tmp/out/c.csv") -eq 801 ]] && ok || bad "curves rows (400 checkpoints x 2 policies)"
    grep -q '"policy":	"splitee"' "$tmp/out/r.json" && ok || bad "json lacks policy"
else bad "replay with reports failed"; fi

# --- CSV input gives the same table as .npy
/usr/bin/env printf 'label,e1_c1,e1_c2,e2_c1,e2_c2\n0,2.0,0.1,3.0,-1.0\n1,0.2,0.1,0.1,2.5\n1,0.5,0.4,-1.0,1.5\n' > "$tmp/small.csv"
$bin replay --logits "$tmp/small.csv" --labels none --reps 2 --policy final --no-progress > /dev/null \
    && ok || bad "csv input"

# --- bad input: one line, exit 2, no files
printf 'not numpy at all' > "$tmp/garbage.npy"
head -c 200 fixtures/ref-logits.npy > "$tmp/trunc.npy"
refuse missing-file "nosuch.npy" $bin replay --logits "$tmp/nosuch.npy" $outs
refuse bad-magic "garbage.npy" $bin replay --logits "$tmp/garbage.npy" --labels fixtures/ref-labels.npy $outs
refuse truncated "trunc.npy" $bin replay --logits "$tmp/trunc.npy" --labels fixtures/ref-labels.npy $outs
refuse labels-mismatch "bad-labels-count.npy" $bin replay --logits fixtures/ref-logits.npy --labels fixtures/bad-labels-count.npy $outs
refuse unknown-option "--bogus" $bin replay $T --bogus 3 $outs
refuse bad-policy "nosuch" $bin replay $T --policy splitee,nosuch $outs
refuse fixed-range "fixed" $bin replay $T --policy fixed:13 $outs
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
    $bin replay --logits "$tmp/e/l1.npy" --labels "$tmp/e/y.npy" --reps 1 --policy final --quiet \
        && ok || bad "replay does not read the table logits wrote"
else bad "logits on the fixture images failed"; fi
# a shipped domain is its distortion with the shipped parameters
$bin logits $M $I --domain noise --out "$tmp/e/n1.npy" --no-progress
$bin logits $M $I --distort noise:0.2 --noise-seed 20231101 --out "$tmp/e/n2.npy" --no-progress
cmp -s "$tmp/e/n1.npy" "$tmp/e/n2.npy" && ok || bad "--domain noise != --distort noise:0.2 --noise-seed 20231101"
$bin logits $M $I --distort noise:0.2 --noise-seed 7 --out "$tmp/e/n3.npy" --no-progress
cmp -s "$tmp/e/n1.npy" "$tmp/e/n3.npy" && bad "--noise-seed does not change the noise" || ok
# old spelling: --seed is the noise seed of logits and infer
$bin logits $M $I --distort noise:0.2 --seed 7 --out "$tmp/e/n4.npy" --no-progress
cmp -s "$tmp/e/n3.npy" "$tmp/e/n4.npy" && ok || bad "logits --seed 7 != --noise-seed 7"
# --distort NAME is --domain NAME (device's old spelling)
$bin logits $M $I --distort noise --out "$tmp/e/n5.npy" --no-progress
cmp -s "$tmp/e/n1.npy" "$tmp/e/n5.npy" && ok || bad "--distort noise != --domain noise"

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
    $bin replay $T --layer-cost "$tmp/e/p.json" --reps 1 --policy final --quiet && ok || bad "replay refuses the profile"
else bad "profile failed"; fi
$bin profile $M $I --runs 3 --warmup 0 --normalise 0.1 --out "$tmp/e/p2.json" > /dev/null \
    && grep -q '"units":	"normalised"' "$tmp/e/p2.json" && ok || bad "profile --normalise"
cat > "$tmp/e/hand.json" <<'JSON'
{"format": "splitee-device-profile", "version": 1, "units": "ms",
 "layer_cost": [0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}
JSON
check profile-replay $bin replay $T --layer-cost "$tmp/e/hand.json" --reps 2 --policy splitee,final,fixed:2

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
refuse logits-distort-no-level "--distort: 'noise:' needs a numeric level" $bin logits $M $I --distort noise: $LO
refuse logits-distort-bad-name "unknown domain 'fog'" $bin logits $M $I --distort fog $LO
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
check replay-link $bin replay $T --reps 3 --policy splitee,splitee-s,final,oracle,fixed:3 --link $LK/degrading.json --arrival-ms 2000 --payload-shape 16x64
a=$($bin replay $T --reps 4 --threads 1 --policy splitee,thompson --link $LK/lte-ge.json --payload-shape 16x64)
b=$($bin replay $T --reps 4 --threads 2 --policy splitee,thompson --link $LK/lte-ge.json --model ../data/model)
[[ "$a" == "$b" ]] && ok || bad "thread count changes results with --link"
echo '{"uplink_mbps": -3, "downlink_mbps": 1, "rtt_ms": 5}' > "$tmp/neg.json"
printf '0 5\n1 fast\n' > "$tmp/bad.trace"
echo '{"downlink_mbps": 1, "rtt_ms": 5, "trace": {"file": "bad.trace"}}' > "$tmp/badtrace.json"
refuse link-no-profile "--link PROFILE is required" $bin link --model ../data/model
refuse link-missing-profile "nosuch.json" $bin link --link "$tmp/nosuch.json" --model ../data/model
refuse link-negative "neg.json: uplink_mbps must be > 0" $bin link --link "$tmp/neg.json" --model ../data/model
refuse link-bad-trace "bad.trace:2:" $bin link --link "$tmp/badtrace.json" --model ../data/model
refuse link-bad-encoding "f64" $bin link --link $LK/lte.json --model ../data/model --encoding f64
refuse replay-link-negative "neg.json" $bin replay $T --link "$tmp/neg.json" --payload-shape 16x64 $outs
refuse replay-link-offload "--link replaces --offload" $bin replay $T --link $LK/lte.json --offload 0.2 --payload-shape 16x64 $outs
refuse replay-link-arrival "--arrival-ms" $bin replay $T --link $LK/lte.json --arrival-ms -5 $outs
# payload sizes come from a model: a table of one's own names it (or a shape)
refuse replay-link-no-model "is not a shipped table, so give the model" $bin replay $T --link $LK/lte.json $outs

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
    # --plot-setting N: the regret figure of that setting only, beside the sweep figure
    rm -rf "$tmp/fig2"; mkdir -p "$tmp/fig2"
    if $bin replay $T --reps 2 --policy splitee,oracle --offload 0.1,0.3,0.5 --quiet --plot "$tmp/fig2/r" --plot-setting 2; then
        got=$(cd "$tmp/fig2" && ls | tr '\n' ' ')
        [[ "$got" == "r-regret-o0.3.png r-regret-o0.3.svg r-sweep.png r-sweep.svg " ]] && ok || bad "--plot-setting 2: got '$got'"
    else bad "replay --plot-setting 2 failed"; fi
    refuse plot-setting-range "--plot-setting: 4, but the sweep has 3 settings" \
        $bin replay $T --reps 2 --offload 0.1,0.3,0.5 --quiet --plot "$tmp/out/r" --plot-setting 4
    refuse plot-no-folder "nosuch/f-regret.svg: cannot write" $bin plot --curves "$tmp/fig/lc.csv" --out "$tmp/out/nosuch/f"
fi

# --- one grammar for every command (issue 10)
# labels are never silently wrong: shipped labels go only with shipped tables
npy_header() { # npy_header DESCR SHAPE: a .npy version 1.0 header
    local d="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
    local hl=$(( (10 + ${#d} + 1 + 63) / 64 * 64 - 10 ))
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $((hl % 256)))\\x$(printf %02x $((hl / 256)))"
    printf '%s%*s\n' "$d" $((hl - ${#d} - 1)) ""
}
# a synthetic table of 10000 samples (as many as the Fashion-MNIST test
# set), 2 exits, 10 classes: sample i has label i % 10, exit 1 always
# predicts the next class (wrong), exit 2 always the label (right)
block="" lab=""
for y in 0 1 2 3 4 5 6 7 8 9; do
    for e in 1 2; do
        want=$(( e == 1 ? (y + 1) % 10 : y ))
        for c in 0 1 2 3 4 5 6 7 8 9; do
            [[ $c -eq $want ]] && block+='\x00\x00\x40\x40' || block+='\x00\x00\x00\x00'   # 3.0f, 0.0f
        done
    done
    lab+="\\x0$y\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
done
{ npy_header '<f4' '(10000, 2, 10)'; for _ in $(seq 1000); do printf "$block"; done; } > "$tmp/own.npy"
{ npy_header '<i8' '(10000,)'; for _ in $(seq 1000); do printf "$lab"; done; } > "$tmp/own-labels.npy"
# replayed without --labels, inside the checkout: no accuracy, and one note
check own-no-labels bash -c "cd .. && $bin replay --logits $tmp/own.npy --reps 2 --policy final,splitee,oracle --no-progress"
[[ $(wc -l < "$tmp/err.txt") -eq 1 ]] && grep -q "^splitee: note: $tmp/own.npy has no labels, so no accuracy is reported" "$tmp/err.txt" \
    && ok || bad "own table without labels: stderr '$(cat "$tmp/err.txt")'"
# with its own labels the final exit is always right
$bin replay --logits "$tmp/own.npy" --labels "$tmp/own-labels.npy" --reps 1 --policy final --no-progress > "$tmp/own2.txt" 2> "$tmp/own2.err"
grep -q '^final  *1\.0000 ' "$tmp/own2.txt" && [[ ! -s "$tmp/own2.err" ]] && ok || bad "own labels: $(cat "$tmp/own2.txt" "$tmp/own2.err")"
# a copy of a shipped table is not a shipped table; the shipped one by any path is
cp ../data/fmnist-clean.npy "$tmp/copy.npy"
$bin replay --logits "$tmp/copy.npy" --reps 1 --policy final --no-progress 2> /dev/null | grep -q '^final  *n/a ' \
    && ok || bad "a copy of the shipped table got the shipped labels"
$bin replay --logits ../data/../data/fmnist-clean.npy --reps 1 --policy final --no-progress 2> "$tmp/e.err" | grep -q '^final  *0\.8859 ' \
    && [[ ! -s "$tmp/e.err" ]] && ok || bad "the shipped table by another path lost its labels"
# a CSV label column works without flags; --labels none drops it, quietly
check csv-label-column $bin replay --logits "$tmp/small.csv" --reps 2 --policy final,splitee --no-progress
[[ ! -s "$tmp/err.txt" ]] && ok || bad "csv with labels: stderr $(cat "$tmp/err.txt")"
$bin replay --logits "$tmp/small.csv" --labels none --reps 1 --policy final --no-progress > "$tmp/csvn.txt" 2> "$tmp/csvn.err"
grep -q '^final  *n/a ' "$tmp/csvn.txt" && [[ ! -s "$tmp/csvn.err" ]] && ok || bad "csv --labels none: $(cat "$tmp/csvn.txt" "$tmp/csvn.err")"
cut -d, -f2- "$tmp/small.csv" > "$tmp/nolabel.csv"
$bin replay --logits "$tmp/nolabel.csv" --reps 1 --policy final --no-progress 2>&1 >/dev/null | grep -q 'nolabel.csv has no labels' \
    && ok || bad "csv without a label column: no note"
# a table in the other layout: the error says which layout reads it
{ npy_header '<f4' '(2, 100, 2)'; for _ in $(seq 400); do printf '\x00\x00\x80\x3f'; done; } > "$tmp/ef.npy"
refuse layout-hint "ef.npy: 100 exits, more than the 64 supported.*the exits-first layout reads it as 2 exits of 100 samples" \
    $bin replay --logits "$tmp/ef.npy" $outs
$bin replay --logits "$tmp/ef.npy" --layout exits-first --reps 1 --policy final --quiet --no-progress 2> /dev/null \
    && ok || bad "--layout exits-first does not read the exits-first table"

# every default works from any folder: the catalogue's model, tables, test set, links
mkdir -p "$tmp/elsewhere" "$tmp/ds/fashion-mnist"
cp fixtures/fmnist16-images-idx3-ubyte.gz "$tmp/ds/fashion-mnist/t10k-images-idx3-ubyte.gz"
gzip -c fixtures/fmnist16-labels-idx1-ubyte > "$tmp/ds/fashion-mnist/t10k-labels-idx1-ubyte.gz"
(cd "$tmp/elsewhere" && $bin replay --reps 1 --policy final --no-progress) > "$tmp/any.txt" 2>&1 \
    && grep -q '^final  *0\.8859 ' "$tmp/any.txt" && ok || bad "replay from another folder: $(cat "$tmp/any.txt")"
(cd "$tmp/elsewhere" && $bin replay --domain noise --shift 50%:blur --reps 1 --policy final --no-progress) > "$tmp/any.txt" 2>&1 \
    && grep -q '^final  *0\.' "$tmp/any.txt" && ok || bad "replay --domain/--shift NAME from another folder: $(cat "$tmp/any.txt")"
(cd "$tmp/elsewhere" && SPLITEE_DATASETS="$tmp/ds" $bin infer --split 2) > "$tmp/any.txt" 2>&1 \
    && diff <(tail -n +2 expected/infer-f32.txt) <(grep -v 'max |final logit' "$tmp/any.txt" | tail -n +2) > /dev/null \
    && ok || bad "infer on the default model and test set from another folder: $(cat "$tmp/any.txt")"
(cd "$tmp/elsewhere" && SPLITEE_DATASETS="$tmp/ds" $bin logits --out "$tmp/e/def.npy" --labels-out "$tmp/e/defy.npy" --no-progress) \
    && cmp -s "$tmp/e/def.npy" "$tmp/e/l1.npy" && cmp -s "$tmp/e/defy.npy" "$tmp/e/y.npy" && ok || bad "logits on the defaults from another folder"
refuse no-test-set "t10k-images-idx3-ubyte.gz: not found (Debian package dataset-fashion-mnist" \
    env SPLITEE_DATASETS="$tmp/nothing" $bin infer --split 2 --json "$tmp/out/i.json"
(cd "$tmp/elsewhere" && $bin link --link lte) | grep -v '^model ' | diff - <(grep -v '^model ' expected/link-lte.txt) > /dev/null \
    && ok || bad "link --link NAME from another folder"
refuse link-no-name "links/nosuch.json" $bin link --link nosuch
# no shipped path in the CLI's code: it all comes from the catalogue
grep -rn 'data/\|fmnist\|/usr/share' ../src/cli > "$tmp/paths.txt" && bad "CLI code names shipped paths: $(cat "$tmp/paths.txt")" || ok

# --config on another command than replay, flags override it
echo '{"model": "../data/model", "images": "fixtures/fmnist16-images-idx3-ubyte.gz", "labels": "fixtures/fmnist16-labels-idx1-ubyte", "split": 2}' > "$tmp/infer.json"
skip="max |final logit"
check infer-f32 $bin infer --config "$tmp/infer.json"
check infer-final $bin infer --config "$tmp/infer.json" --split 12
skip=""
refuse config-unknown "infer.json: unknown option \"colour\" (see splitee infer --help)" \
    bash -c "echo '{\"colour\": 1}' > $tmp/infer.json; $bin infer --config $tmp/infer.json"

# progress: on stderr when asked (or a terminal), never otherwise
$bin infer $M $I $Y --split 2 --progress 2> "$tmp/p.err" > /dev/null
grep -q 'infer: 16/16 images (100%)' "$tmp/p.err" && ok || bad "infer --progress: $(cat "$tmp/p.err")"
$bin infer $M $I $Y --split 2 2> "$tmp/p.err" > /dev/null
[[ ! -s "$tmp/p.err" ]] && ok || bad "infer draws progress on a file: $(cat "$tmp/p.err")"
$bin logits $M $I --out "$tmp/e/p.npy" --progress 2> "$tmp/p.err"
grep -q 'logits: 16/16 images (100%)' "$tmp/p.err" && ok || bad "logits --progress: $(cat "$tmp/p.err")"
$bin replay $T --reps 2 --policy final --quiet --progress 2> "$tmp/p.err"
grep -q 'replay: 2/2 jobs (100%)' "$tmp/p.err" && ok || bad "replay --progress: $(cat "$tmp/p.err")"
$bin profile $M --runs 3 --warmup 1 --progress 2> "$tmp/p.err" > /dev/null
grep -q 'profile: 4/4 runs (100%)' "$tmp/p.err" && ok || bad "profile --progress: $(cat "$tmp/p.err")"
for c in plot link cloud device; do
    $bin $c --help | grep -q -- '--no-progress' && ok || bad "$c has no --no-progress"
done

# the grammar's errors: one line each, exit 2, the same words in every command
refuse device-bogus "^splitee: unknown option '--bogus' (see splitee device --help)$" $bin device --bogus
refuse device-bogus-value "^splitee: unknown option '--bogus' (see splitee device --help)$" $bin device --cloud none --bogus 3
refuse cloud-bogus "^splitee: unknown option '--bogus' (see splitee cloud --help)$" $bin cloud --bogus=1
refuse missing-value "^splitee: --reps: missing R$" $bin replay $T --reps
refuse missing-before "^splitee: --cloud: missing HOST:PORT (before '--limit')$" $bin device --cloud --limit 3
refuse flag-value "^splitee: --quiet is a flag and takes no value (got '--quiet=yes')$" $bin replay $T --quiet=yes $outs
refuse positional "unexpected argument 'extra' (see splitee infer --help)" $bin infer extra
refuse bad-number "^splitee: --workers: expected an integer in 1..256, got 'many'$" $bin cloud --workers many
refuse logits-and-domain "give one --logits or --domain" $bin replay --logits "$tmp/own.npy" --domain noise $outs
refuse device-oracle "oracle needs every sample's outcome in hindsight" $bin device --cloud none --policy oracle
refuse device-two-policies "splitee device runs one policy, not 2" $bin device --cloud none --policy splitee,final
refuse device-sweep "--alpha: splitee device takes one value, not a sweep" $bin device --cloud none --alpha 0.7,0.8
refuse cloud-confidence "--confidence: expected any or one of" $bin cloud --confidence nope
refuse device-bad-window "--window: expected an integer in 1..100000000" $bin device --cloud none --window 0
# the messages themselves, recorded
errs() {
    local args
    while IFS= read -r args; do
        echo "\$ splitee $args"
        eval "$bin $args" 2>&1 >/dev/null | sed "s|$tmp|TMP|g"
        echo "exit ${PIPESTATUS[0]}"
    done <<'EOF'
device --bogus
device --cloud
device --cloud none --policy nosuch
device --cloud none --policy d-ucb-s --discount 0
replay --quiet=1
replay --reps
replay --reps many
replay --policies splitee,nosuch
replay --confidence loud
replay --side-info maybe
replay --alpha 0.5:0.1:0.1
logits --distort wobble:1 --out x.npy
infer --split 99 --images nosuch
link --draws 0 --link lte
cloud --listen 127.0.0.1
plot --curves c.csv
profile --runs=0
EOF
}
check errors errs

# replay and device: the same exit rule, reward and policy options, the
# same output and link options where they share them (defaults aside)
section() { sed -n "/^$1:\$/,/^\$/p" | sed -e '/^ *\[[^]]*\]$/d' -e 's/ \[[^]]*\]$//'; }
for g in "exit rule" reward policy; do
    diff <($bin replay --help | section "$g") <($bin device --help | section "$g") > "$tmp/d.txt" \
        && [[ $($bin device --help | section "$g" | wc -l) -gt 3 ]] && ok || { bad "replay and device differ in '$g'"; cat "$tmp/d.txt" >&2; }
done
for o in json quiet checkpoints link encoding progress no-progress seed; do
    a=$($bin replay --help | grep -- "^  --$o ")
    b=$($bin device --help | grep -- "^  --$o ")
    [[ -n "$a" && "$a" == "$b" ]] && ok || bad "--$o: replay '$a', device '$b'"
done
skip="^else the installed one. Here: "
check help-replay $bin replay --help
check help-device $bin device --help
skip=""

# --- outputs are checked before the work and written all or none (issue 8)
refuse out-missing-folder "/nonexistent-dir/x.csv: cannot write: folder /nonexistent-dir does not exist" \
    $bin replay $T --reps 1 --quiet --json "$tmp/out/ok.json" --csv /nonexistent-dir/x.csv
refuse out-folder "cannot write: it is a folder" $bin replay $T --reps 1 --quiet --json "$tmp/out/ok.json" --csv "$tmp"
refuse out-plot-folder "nosuch/f-regret.svg: cannot write" $bin replay $T --reps 1 --quiet --plot "$tmp/out/nosuch/f"
refuse device-out-missing-folder "/nonexistent-dir/s.json: cannot write" \
    $bin device --cloud none --images fixtures/fmnist16-images-idx3-ubyte.gz --labels fixtures/fmnist16-labels-idx1-ubyte \
    --model ../data/model --limit 4 --quiet --log "$tmp/out/l.jsonl" --state "$tmp/out/s.state" --json /nonexistent-dir/s.json
if mknod "$tmp/full" c 1 7 2> /dev/null; then   # our own /dev/full, never the real one
    refuse out-device-full "full: cannot write: No space left on device" \
        $bin replay $T --reps 1 --quiet --json "$tmp/out/ok.json" --csv "$tmp/full"
    [[ -c "$tmp/full" ]] && ok || bad "the device node was replaced"
    mknod "$tmp/null" c 1 3
    $bin replay $T --reps 1 --quiet --json "$tmp/null" && [[ -c "$tmp/null" ]] && ok \
        || bad "--json to a null device: not written in place"
else
    echo "cli: mknod not permitted: the device-node output checks are skipped" >&2
fi
ln -sf "$tmp/real.json" "$tmp/link.json"
$bin replay $T --reps 1 --quiet --json "$tmp/link.json" && [[ -L "$tmp/link.json" && -s "$tmp/real.json" ]] && ok \
    || bad "--json through a symlink: the link was not followed"

# --- shipped tables by name: --list-tables, and --table as --domain's other spelling
lt=$($bin replay --list-tables)
for d in clean noise blur contrast; do
    grep -qE "^  $d +" <<< "$lt" && ok || bad "--list-tables lacks $d"
done
[[ "$($bin replay --table blur --reps 2 --policy oracle,final)" == "$($bin replay --domain blur --reps 2 --policy oracle,final)" ]] \
    && ok || bad "--table blur differs from --domain blur"

# --- exit rules (docs/EXIT_RULES.md): the same options in replay and device
check rule-patience $bin replay $T --reps 2 --policy splitee-s,ee-threshold,oracle --rule patience --patience 2
check rule-agreement $bin replay $T --reps 2 --policy splitee-s,ee-threshold --rule agreement --alpha 1.5
refuse rule-per-exit-no-alphas "--rule per-exit: needs --alphas" $bin replay $T --rule per-exit $outs
refuse rule-alphas-not-per-exit "--alphas: only for --rule per-exit" $bin replay $T --alphas 0.9,0.9 $outs
refuse rule-bad "--rule: expected threshold, per-exit, patience or agreement" $bin replay $T --rule nope $outs
refuse rule-threshold-range "--alpha: a confidence threshold is in" $bin replay $T --alpha 1.5 $outs
refuse rule-infer "splitee infer applies the threshold rule" $bin infer --split 2 --rule patience
refuse rule-device-per-exit-count "per-exit: 2 thresholds given for 12 exits" $bin device --cloud none --rule per-exit --alphas 0.9,0.9 --limit 4

# --- a version 2 model through the CLI: fixtures/cnn28 (tests/tiny_models.h,
# tm_cnn28: random weights, so its accuracy means nothing; a (1, 28, 28)
# input, payloads that shrink with depth)
C28="--model fixtures/cnn28"
I16="--images fixtures/fmnist16-images-idx3-ubyte.gz"
Y16="--labels fixtures/fmnist16-labels-idx1-ubyte"
mkdir -p "$tmp/v2"
skip="max |final logit"
check v2-infer $bin infer $C28 $I16 $Y16 --split 2 --alpha 0.14
check v2-infer-int8 $bin infer $C28 $I16 $Y16 --split 1 --alpha 0.14 --encoding int8
skip=""
check v2-link-lte $bin link --link ../data/links/lte.json $C28 --raw-input
# every split point's payload has its own size (the CNN shrinks)
$bin link --link ../data/links/lte.json $C28 --raw-input | awk '$1 ~ /^(raw|[0-9]+)$/ && NF == 8 {print $3}' > "$tmp/v2/bytes"
[[ $(wc -l < "$tmp/v2/bytes") -eq 3 && $(sort -u "$tmp/v2/bytes" | wc -l) -eq 3 ]] && ok \
    || bad "v2 link: payload sizes per split point: $(tr '\n' ' ' < "$tmp/v2/bytes")"
if $bin logits $C28 $I16 $Y16 --labels-out "$tmp/v2/y.npy" --out "$tmp/v2/l1.npy" --threads 1 --no-progress; then
    "$npycmp" "$tmp/v2/l1.npy" "$tmp/v2/l1.npy" --quiet | grep -q '^(16, 3, 10)' && ok || bad "v2 logits: shape"
    $bin logits $C28 $I16 --out "$tmp/v2/l3.npy" --threads 3 --no-progress \
        && cmp -s "$tmp/v2/l1.npy" "$tmp/v2/l3.npy" && ok || bad "v2 logits: thread count changes the table"
    $bin replay --logits "$tmp/v2/l1.npy" --labels "$tmp/v2/y.npy" --reps 1 --policy final,splitee --quiet \
        && ok || bad "replay does not read the v2 model's table"
else bad "logits with the v2 model failed"; fi
if $bin profile $C28 --runs 3 --warmup 1 --out "$tmp/v2/p.json" > "$tmp/v2/p.txt"; then
    tr -d ' \t\n' < "$tmp/v2/p.json" | grep -q '"macs":\[10644,20072,18512\]' && ok || bad "v2 profile: MACs"
    grep -q '^layer 3 .* 18432 *80$' "$tmp/v2/p.txt" && ok || bad "v2 profile: MACs column $(grep '^layer 3' "$tmp/v2/p.txt")"
else bad "profile with the v2 model failed"; fi

# --- logits --inputs X.npy: raw inputs the model normalises, as IDX pixels / 255
# two images: the first half black then white, the second white
{ printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c'
  for _ in $(seq 392); do printf '\x00'; done; for _ in $(seq 1176); do printf '\xff'; done; } > "$tmp/v2/two.idx"
f32s() { for _ in $(seq 392); do printf '\x00\x00\x00\x00'; done; for _ in $(seq 1176); do printf '\x00\x00\x80\x3f'; done; }
{ npy_header '<f4' '(2, 28, 28)'; f32s; } > "$tmp/v2/two.npy"
{ npy_header '<f4' '(2, 1, 28, 28)'; f32s; } > "$tmp/v2/two4.npy"
for mo in "$C28" "--model ../data/model"; do
    $bin logits $mo --images "$tmp/v2/two.idx" --out "$tmp/v2/a.npy" --no-progress \
        && $bin logits $mo --inputs "$tmp/v2/two.npy" --out "$tmp/v2/b.npy" --no-progress \
        && $bin logits $mo --inputs "$tmp/v2/two4.npy" --out "$tmp/v2/c.npy" --no-progress --threads 2 \
        && cmp -s "$tmp/v2/a.npy" "$tmp/v2/b.npy" && cmp -s "$tmp/v2/a.npy" "$tmp/v2/c.npy" && ok \
        || bad "logits $mo: --inputs X.npy differs from the same pixels as IDX"
done
# --normalised: the parity fixture's normalised inputs give PyTorch's logits
$bin logits --model ../data/model --inputs ../data/model/fixture/inputs.npy --normalised --out "$tmp/v2/n.npy" --no-progress \
    && "$npycmp" "$tmp/v2/n.npy" ../data/model/fixture/logits.npy --tol 1e-4 --quiet > /dev/null && ok \
    || bad "logits --inputs --normalised differs from PyTorch's fixture logits"
cmp -s "$tmp/v2/n.npy" "$tmp/e/l1.npy" && bad "--normalised was ignored" || ok
# labels with --inputs: a .npy of integers
{ npy_header '<i8' '(2,)'; printf '\x07\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00'; } > "$tmp/v2/y2.npy"
$bin logits $C28 --inputs "$tmp/v2/two.npy" --labels "$tmp/v2/y2.npy" --labels-out "$tmp/v2/y2o.npy" --out "$tmp/v2/d.npy" --no-progress \
    && [[ $(tail -c 16 "$tmp/v2/y2o.npy" | od -An -tx1 | tr -d ' \n') == 07000000000000000300000000000000 ]] && ok \
    || bad "logits --inputs --labels: labels-out"
{ npy_header '<i8' '(3,)'; for _ in 1 2 3; do printf '\x01\x00\x00\x00\x00\x00\x00\x00'; done; } > "$tmp/v2/y3.npy"
{ npy_header '<i8' '(2,)'; printf '\x0a\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00'; } > "$tmp/v2/y10.npy"
{ npy_header '<f8' '(2, 28, 28)'; for _ in $(seq 1568); do printf '\x00\x00\x00\x00\x00\x00\x00\x00'; done; } > "$tmp/v2/f64.npy"
{ npy_header '<f4' '(2, 2, 28, 28)'; f32s; f32s; } > "$tmp/v2/c2.npy"
{ npy_header '<f4' '(2, 28, 28)'; printf '\x00\x00\xc0\x7f'; for _ in $(seq 1567); do printf '\x00\x00\x00\x00'; done; } > "$tmp/v2/nan.npy"
LO="--out $tmp/out/x.npy"
refuse inputs-shape "c2.npy: inputs of shape (2, 2, 28, 28), the model fixtures/cnn28/model.json takes (N, 1, 28, 28) or (N, 28, 28)" \
    $bin logits $C28 --inputs "$tmp/v2/c2.npy" $LO
refuse inputs-dtype "f64.npy: inputs must be float32" $bin logits $C28 --inputs "$tmp/v2/f64.npy" $LO
refuse inputs-missing "nosuch.npy" $bin logits $C28 --inputs "$tmp/nosuch.npy" $LO
refuse inputs-nan "nan.npy: image 0: " $bin logits $C28 --inputs "$tmp/v2/nan.npy" $LO
refuse inputs-and-images "--inputs: give --inputs or --images, not both" $bin logits $C28 --inputs "$tmp/v2/two.npy" $I16 $LO
refuse inputs-distort "distortions apply to IDX images" $bin logits $C28 --inputs "$tmp/v2/two.npy" --distort blur:1 $LO
refuse normalised-alone "--normalised: only with --inputs" $bin logits $C28 $I16 --normalised $LO
refuse inputs-label-count "y3.npy: labels must have shape (2,)" $bin logits $C28 --inputs "$tmp/v2/two.npy" --labels "$tmp/v2/y3.npy" $LO
refuse inputs-label-range "y10.npy: label 10 of input 0 is outside the model's classes 0..9" \
    $bin logits $C28 --inputs "$tmp/v2/two.npy" --labels "$tmp/v2/y10.npy" $LO
refuse inputs-labels-out "--labels-out: needs labels" $bin logits $C28 --inputs "$tmp/v2/two.npy" --labels-out "$tmp/out/y.npy" $LO

# --- calibrate: risk control of the early-exit threshold (docs/RISK.md)
check calibrate-ltt $bin calibrate $T --risk prediction-gap --clamp --method ltt --epsilon 0.05
check calibrate-wsr $bin calibrate $T --risk prediction-gap --method ucb-wsr --epsilon 0.05
check calibrate-hb-none $bin calibrate $T --risk prediction-gap --method ucb-hb --epsilon 0.05
check calibrate-crc-brier $bin calibrate $T --risk brier-gap --clamp --method crc --epsilon 0.05
check calibrate-naive-entropy $bin calibrate $T --method naive --confidence entropy --epsilon 0.1
check calibrate-eval $bin calibrate $T --method ltt --epsilon 0.1 --splits 50 --n-cal 200 --seed 3
check calibrate-eval-crc $bin calibrate $T --risk prediction-gap --clamp --method crc --epsilon 0.1 --splits 50 --n-cal 200
skip="^else the installed one. Here: "
check help-calibrate $bin calibrate --help
skip=""
mkdir -p "$tmp/cal"
$bin calibrate $T --risk prediction-gap --clamp --epsilon 0.05 --json "$tmp/cal/c.json" > /dev/null \
    && grep -q '"threshold": 0.87,' "$tmp/cal/c.json" && grep -q '"method": "ltt",' "$tmp/cal/c.json" \
    && grep -q '"n": 400,' "$tmp/cal/c.json" && grep -q '"empirical_risk": 0.0275,' "$tmp/cal/c.json" && ok \
    || bad "calibrate --json: threshold, method, n, empirical risk"
$bin calibrate $T --risk prediction-gap --method ucb-hb --epsilon 0.05 --json "$tmp/cal/n.json" > /dev/null \
    && grep -q '"threshold": null,' "$tmp/cal/n.json" && ok || bad "calibrate --json: no threshold is null"
$bin calibrate $T --splits 20 --n-cal 100 --seed 9 --json "$tmp/cal/e1.json" > "$tmp/cal/e1.txt" \
    && $bin calibrate $T --splits 20 --n-cal 100 --seed 9 --json "$tmp/cal/e2.json" > "$tmp/cal/e2.txt" \
    && cmp -s "$tmp/cal/e1.txt" "$tmp/cal/e2.txt" && grep -q '"share_over_epsilon": ' "$tmp/cal/e1.json" && ok \
    || bad "calibrate --splits: the same seed gives the same splits"
$bin calibrate $T --splits 20 --n-cal 100 --seed 10 > "$tmp/cal/e3.txt" && ! cmp -s "$tmp/cal/e1.txt" "$tmp/cal/e3.txt" \
    && ok || bad "calibrate --splits: another seed gives other splits"
CJ="--json $tmp/out/c.json"
refuse calibrate-eps-zero "--epsilon: expected a number in (0, 1), got '0'" $bin calibrate $T --epsilon 0 $CJ
refuse calibrate-eps-one "--epsilon: expected a number in (0, 1), got '1'" $bin calibrate $T --epsilon 1 $CJ
refuse calibrate-delta "--delta: expected a number in (0, 1), got '1.5'" $bin calibrate $T --delta 1.5 $CJ
refuse calibrate-method "--method: expected one of naive, crc, ucb-hb, ucb-wsr, ltt, got 'ucb'" $bin calibrate $T --method ucb $CJ
refuse calibrate-risk "--risk: expected one of prediction-gap, consistency, brier-gap, got 'gap'" $bin calibrate $T --risk gap $CJ
refuse calibrate-no-labels "ref-logits.npy: the prediction-gap risk needs labels, the table has none" \
    $bin calibrate $T --labels none --risk prediction-gap $CJ
refuse calibrate-too-small "calibrate: 10 calibration samples are too small for ltt at epsilon 0.05, delta 0.1 (Hoeffding-Bentkus needs at least 45)" \
    $bin calibrate $T --splits 3 --n-cal 10 $CJ
refuse calibrate-crc-small "too small for crc at epsilon 0.01 (loss bound 1 needs at least 99)" \
    $bin calibrate $T --method crc --epsilon 0.01 --splits 2 --n-cal 50 $CJ
refuse calibrate-no-test "evaluate: 400 calibration samples of 400 leave no test sample" $bin calibrate $T --splits 3 --n-cal 400 $CJ
refuse calibrate-ncal-alone "--n-cal: only with --splits R" $bin calibrate $T --n-cal 10 $CJ
refuse calibrate-splits-alone "--splits: needs --n-cal N" $bin calibrate $T --splits 10 $CJ
refuse calibrate-shift "--shift: splitee calibrate takes one table" $bin calibrate $T --shift 100:noise $CJ
refuse calibrate-json-folder "nosuch/c.json: cannot write" $bin calibrate $T --json "$tmp/out/nosuch/c.json"
# replay --alpha-from: the calibrated threshold and its measure, as if given by hand
$bin calibrate $T --risk prediction-gap --clamp --confidence entropy --epsilon 0.05 --json "$tmp/cal/h.json" > /dev/null \
    && grep -q '"threshold": 0.63,' "$tmp/cal/h.json" \
    && $bin replay $T --reps 2 --policy splitee,final --alpha-from "$tmp/cal/h.json" > "$tmp/cal/r1.txt" \
    && $bin replay $T --reps 2 --policy splitee,final --alpha 0.63 --confidence entropy > "$tmp/cal/r2.txt" \
    && cmp -s "$tmp/cal/r1.txt" "$tmp/cal/r2.txt" && ok || bad "replay --alpha-from differs from --alpha 0.63 --confidence entropy"
$bin replay $T --reps 2 --policy splitee,final --alpha-from "$tmp/cal/h.json" --alpha 0.63 --rule agreement > /dev/null \
    && ok || bad "a later --alpha lifts --alpha-from's threshold-rule check"
refuse alpha-from-rule "--alpha-from: a calibrated threshold is for --rule threshold (the rule is patience)" \
    $bin replay $T --alpha-from "$tmp/cal/h.json" --rule patience $outs
refuse alpha-from-none "--alpha-from: .*n.json: the calibration found no threshold" $bin replay $T --alpha-from "$tmp/cal/n.json" $outs
refuse alpha-from-eval "e1.json has no \"threshold\"" $bin replay $T --alpha-from "$tmp/cal/e1.json" $outs
refuse alpha-from-missing "nosuch.json: cannot open" $bin replay $T --alpha-from "$tmp/cal/nosuch.json" $outs
echo '[1, 2]' > "$tmp/cal/arr.json"
refuse alpha-from-array "arr.json is not a JSON object" $bin replay $T --alpha-from "$tmp/cal/arr.json" $outs
echo '{"threshold": 1.5}' > "$tmp/cal/big.json"
refuse alpha-from-range "big.json: \"threshold\" must be a number in \[0, 1\]" $bin replay $T --alpha-from "$tmp/cal/big.json" $outs

# calibrate --form split: one threshold per split layer, into replay --rule per-exit
check calibrate-split $bin calibrate $T --form split --risk prediction-gap --clamp --epsilon 0.1
check calibrate-split-eval $bin calibrate $T --form split --method ltt --epsilon 0.1 --splits 50 --n-cal 200 --seed 3
$bin calibrate $T --form split --risk prediction-gap --clamp --epsilon 0.1 --json "$tmp/cal/s.json" > /dev/null \
    && grep -q '"form": "split",' "$tmp/cal/s.json" \
    && grep -q '"alphas": \[0.66, 0.67, 0.64, 0.57, 0.57, 0.55, 0.49, 0.46, 0.45, 0.35, 0\],' "$tmp/cal/s.json" \
    && grep -q '{"layer": 11, "threshold": 0,' "$tmp/cal/s.json" && ok || bad "calibrate --form split --json: alphas, layers"
$bin replay $T --reps 2 --policy splitee,splitee-s --rule per-exit --alpha-from "$tmp/cal/s.json" > "$tmp/cal/s1.txt" \
    && $bin replay $T --reps 2 --policy splitee,splitee-s --rule per-exit \
        --alphas 0.66,0.67,0.64,0.57,0.57,0.55,0.49,0.46,0.45,0.35,0 > "$tmp/cal/s2.txt" \
    && cmp -s "$tmp/cal/s1.txt" "$tmp/cal/s2.txt" && ok || bad "replay --alpha-from (split) differs from --alphas by hand"
$bin replay $T --reps 2 --policy splitee --alpha-from "$tmp/cal/s.json" --alpha-from "$tmp/cal/h.json" > "$tmp/cal/s3.txt" \
    && cmp -s "$tmp/cal/s3.txt" <($bin replay $T --reps 2 --policy splitee --alpha 0.63 --confidence entropy) \
    && ok || bad "a later --alpha-from replaces a split one"
$bin replay $T --reps 2 --policy splitee --rule per-exit --alpha-from "$tmp/cal/s.json" --alphas 0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5 \
    > "$tmp/cal/s4.txt" && grep -q "^rule per-exit 0.5,0.5," "$tmp/cal/s4.txt" && ok || bad "a later --alphas replaces --alpha-from's"
$bin calibrate $T --form split --risk prediction-gap --method ucb-hb --epsilon 0.05 --json "$tmp/cal/sn.json" > /dev/null \
    && grep -q '"alphas": \[null, null,' "$tmp/cal/sn.json" && ok || bad "calibrate --form split --json: no threshold is null"
$bin calibrate $T --form split --splits 20 --n-cal 100 --json "$tmp/cal/se.json" > /dev/null \
    && grep -q '{"layer": 1, "test_risk": {"mean": ' "$tmp/cal/se.json" && ok || bad "calibrate --form split --splits --json: layers"
refuse calibrate-form "--form: expected one of early-exit, split, got 'splits'" $bin calibrate $T --form splits $CJ
refuse alpha-from-split-rule "--alpha-from: per-layer thresholds of --form split are for --rule per-exit (the rule is threshold)" \
    $bin replay $T --alpha-from "$tmp/cal/s.json" $outs
refuse alpha-from-split-none "sn.json: split layer 1 has no threshold" $bin replay $T --rule per-exit --alpha-from "$tmp/cal/sn.json" $outs
refuse alpha-from-split-eval "se.json has no \"alphas\" array" $bin replay $T --rule per-exit --alpha-from "$tmp/cal/se.json" $outs
{ npy_header '<f4' '(2, 2, 2)'; for _ in $(seq 8); do printf '\x00\x00\x80\x3f'; done; } > "$tmp/cal/two.npy"
refuse alpha-from-split-exits "per-exit: 11 thresholds given for 2 exits" \
    $bin replay --logits "$tmp/cal/two.npy" --labels none --no-progress --rule per-exit --alpha-from "$tmp/cal/s.json" $outs

# --- search: which exits to keep and their thresholds under a budget (docs/SEARCH.md)
SM="--macs [110,210,310,410,510,610,710,810,910,1010,1110,1210] --head-macs 10,10,10,10,10,10,10,10,10,10,10,10"
SG="--grid 0.5:0.9:0.1 --dp-weights 0.25,0.5,0.75"
skip="^search took"
check search-macs $bin search $T --cal-samples 200 $SM $SG --budget-macs 600
check search-accuracy $bin search $T --cal-samples 200 $SM $SG --target-accuracy 0.9
check search-greedy $bin search $T --cal-samples 200 $SM $SG --budget-macs 400 --method greedy
check search-full $bin search $T --cal-samples 200 $SM --grid 0.6,0.9 --thresholds full --budget-macs 500
check search-latency-link $bin search $T --cal-samples 200 --model ../data/model $SG --max-latency-ms 400 --device-macs-per-s 1e8 --link lte
skip=""
mkdir -p "$tmp/s"
$bin search $T --cal-samples 200 $SM $SG --budget-macs 600 --json "$tmp/s/f.json" --plot "$tmp/s/front.png" > /dev/null \
    && grep -q '"chosen": {"exits": \[' "$tmp/s/f.json" && grep -q '"front": \[' "$tmp/s/f.json" \
    && grep -q '"test_accuracy": ' "$tmp/s/f.json" && grep -q '"budget": {"kind": "macs", "limit": 600}' "$tmp/s/f.json" \
    && [[ -s "$tmp/s/front.png" && -s "$tmp/s/front.svg" ]] && ok || bad "search --json/--plot: front, chosen, figure"
# the same configuration from --test-logits as from --cal-samples when the halves are files
$bin logits --model fixtures/cnn28 --images fixtures/live/images-48.idx --labels fixtures/live/labels-48.idx \
    --out "$tmp/s/c28.npy" --labels-out "$tmp/s/c28-labels.npy" --no-progress > /dev/null 2>&1 || bad "search: cnn28 table"
S28="--logits $tmp/s/c28.npy --labels $tmp/s/c28-labels.npy --model fixtures/cnn28 --no-progress --grid 0.1:0.5:0.1"
$bin search $S28 --cal-samples 24 --out-model "$tmp/s/v28" > "$tmp/s/v28.txt" \
    && grep -q '^model variant: .*v28 (exits 1,3)$' "$tmp/s/v28.txt" \
    && grep -q '"variant_exits":[[:space:]]*"1,3"' "$tmp/s/v28/model.json" && ok || bad "search --out-model: cnn28 variant with exits 1,3"
# the variant loads and runs: logits (2 exits), infer, replay on its table, a live cloud and device
$bin logits --model "$tmp/s/v28" --images fixtures/live/images-48.idx --labels fixtures/live/labels-48.idx \
    --out "$tmp/s/v28.npy" --labels-out "$tmp/s/v28-labels.npy" --no-progress > /dev/null 2>&1 \
    && $bin replay --logits "$tmp/s/v28.npy" --labels "$tmp/s/v28-labels.npy" --no-progress --reps 2 --policy splitee,final \
        > "$tmp/s/v28-replay.txt" && grep -q "48 samples x 2 repetitions, 2 layers" "$tmp/s/v28-replay.txt" && ok || bad "search: the variant in logits and replay"
$bin infer --model "$tmp/s/v28" --images fixtures/live/images-48.idx --labels fixtures/live/labels-48.idx --split 1 \
    --no-progress > /dev/null 2>&1 && ok || bad "search: infer on the variant"
$bin cloud --model "$tmp/s/v28" --listen 127.0.0.1:0 --workers 1 2> "$tmp/s/cloud.log" &
cpid=$!
cport=""
for _ in $(seq 100); do
    cport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/s/cloud.log"); [[ -n "$cport" ]] && break; sleep 0.05
done
timeout 60 $bin device --model "$tmp/s/v28" --cloud "127.0.0.1:$cport" --images fixtures/live/images-48.idx \
    --labels fixtures/live/labels-48.idx --limit 16 --timeout 20 --no-progress > "$tmp/s/dev.txt" 2>&1 \
    && grep -q '^samples 16: exited' "$tmp/s/dev.txt" && ok || bad "search: device and cloud on the variant: $(cat "$tmp/s/dev.txt")"
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
# --test-logits: the calibration table as its own test table measures the same; --macs from a file
echo '[110, 210, 310, 410, 510, 610, 710, 810, 910, 1010, 1110, 1210]' > "$tmp/s/macs.json"
$bin search $T --test-logits fixtures/ref-logits.npy --test-labels fixtures/ref-labels.npy --macs "$tmp/s/macs.json" \
    --head-macs 10,10,10,10,10,10,10,10,10,10,10,10 $SG --budget-macs 600 > "$tmp/s/same.txt" \
    && cal_row="$(sed -n 's/^calibration  *//p' "$tmp/s/same.txt")" && [[ -n "$cal_row" ]] \
    && [[ "$cal_row" == "$(sed -n 's/^test  *//p' "$tmp/s/same.txt")" ]] \
    && grep -q "; test: fixtures/ref-logits.npy, 400 samples;" "$tmp/s/same.txt" \
    && ok || bad "search --test-logits: the same table measures the same"
SO="--json $tmp/out/f.json --plot $tmp/out/f.png --out-model $tmp/out/m"
refuse search-test-shape "--test-logits: .*c28.npy has 3 candidates x 10 classes, the calibration table 12 x 4" \
    $bin search $T --test-logits "$tmp/s/c28.npy" --test-labels "$tmp/s/c28-labels.npy" $SM $SO
refuse search-test-labels "--test-logits: needs --test-labels" $bin search $T --test-logits fixtures/ref-logits.npy $SM $SO
refuse search-macs-shape "--macs: 3 values, but fixtures/ref-logits.npy has 12 candidate exits" \
    $bin search $T --cal-samples 200 --macs 1,2,3 --head-macs 1,1,1 $SO
refuse search-head-shape "--head-macs: 2 values, --macs has 3" $bin search $T --cal-samples 200 --macs 1,2,3 --head-macs 1,1 $SO
refuse search-macs-decrease "MACs: backbone MACs must not decrease (candidate 3: 200 after 300)" \
    $bin search $T --cal-samples 200 --macs 110,310,210,410,510,610,710,810,910,1010,1110,1210 \
    --head-macs 10,10,10,10,10,10,10,10,10,10,10,10 $SO
refuse search-head-big "--head-macs: candidate 1's head (200 MACs) exceeds its cumulative MACs (110)" \
    $bin search $T --cal-samples 200 --macs 110,210,310,410,510,610,710,810,910,1010,1110,1210 \
    --head-macs 200,10,10,10,10,10,10,10,10,10,10,10 $SO
refuse search-head-missing "--macs: needs --head-macs" $bin search $T --cal-samples 200 --macs 1,2,3 $SO
refuse search-model-shape "--model: fixtures/cnn28 has 3 exits, but fixtures/ref-logits.npy has 12 candidate exits" \
    $bin search $T --cal-samples 200 --model fixtures/cnn28 $SO
refuse search-unmet "budget: no configuration spends at most 100 mean MACs; the closest: accuracy 0.4950, 205.7 mean MACs, 1270 worst-case MACs (exits 1,2,3,4,5,6,12, thresholds 0.5,0.5" \
    $bin search $T --cal-samples 200 $SM $SG --budget-macs 100 $SO
refuse search-unmet-acc "budget: no configuration reaches accuracy 0.9900; the closest" \
    $bin search $T --cal-samples 200 $SM $SG --target-accuracy 0.99 $SO
refuse search-unmet-lat "budget: no configuration's worst case fits 0.001 ms" \
    $bin search $T --cal-samples 200 $SM $SG --max-latency-ms 0.001 --device-macs-per-s 1e6 $SO
refuse search-grid-empty "--grid: the threshold grid is empty" $bin search $T --cal-samples 200 $SM --grid "" $SO
refuse search-grid-order "--grid: values must increase (0.5 after 0.9)" $bin search $T --cal-samples 200 $SM --grid 0.9,0.5 $SO
refuse search-thresholds "--thresholds: expected common, dp or full, got 'all'" $bin search $T --cal-samples 200 $SM --thresholds all $SO
refuse search-weights "--dp-weights: 1.5 is outside \[0, 1\]" $bin search $T --cal-samples 200 $SM --dp-weights 0.5,1.5 $SO
refuse search-two-budgets "give one budget, not 2" $bin search $T --cal-samples 200 $SM --budget-macs 5 --target-accuracy 0.5 $SO
refuse search-no-rate "--max-latency-ms: needs --device-macs-per-s R" $bin search $T --cal-samples 200 $SM --max-latency-ms 5 $SO
refuse search-link-alone "--link: only with --max-latency-ms" $bin search $T --cal-samples 200 --link lte $SO
refuse search-no-test "give a test table (--test-logits/--test-labels) or --cal-samples N" $bin search $T $SM $SO
refuse search-cal-all "--cal-samples: 400 leaves no test samples" $bin search $T --cal-samples 400 $SM $SO
refuse search-no-labels "the search needs labels" $bin search $T --labels none --cal-samples 200 $SM $SO
refuse search-full-cap "thresholds: full needs about 1e+11 configurations, over the limit of 1e+07" \
    $bin search $T --cal-samples 200 $SM --thresholds full --grid 0.1:0.9:0.1 $SO
mkdir -p "$tmp/s/full" && touch "$tmp/s/full/x"
refuse search-out-model-full "--out-model: .*full is not empty" $bin search $T --cal-samples 200 $SM --out-model "$tmp/s/full"
skip="^else the installed one. Here: "
check help-search $bin search --help
skip=""

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
