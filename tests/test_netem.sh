#!/usr/bin/env bash
# test_netem.sh -- the link-cost simulator against a real emulated link
# (tools/netem.sh, docs/LINKS.md "Validated on a real emulated link"): two
# network namespaces and a veth pair, the shipped 3G, LTE and Wi-Fi
# profiles' rates (and, where the kernel has sch_netem, their delay and
# loss), the ViT at split layers 1, 6 and 11 and the CNN fixture at both of
# its split layers; every row must be within 0.5 ms + 5 % of the
# prediction. Then the same link shaped at 0.8x its rate must fail the
# comparison (the check can fail), and nothing the script made is left
# behind. Skipped (exit 77, with the reason on stderr) where namespaces
# cannot be made: not root, no iproute2, `ip netns add` refused.
# Runs from tests/ with the binary as $1.
set -uo pipefail
bin="$(realpath "$1")"
here="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run_netem NAME ARGS...: tools/netem.sh in the background (its PID names
# its namespaces), bounded by timeout; sets $rc and $pid.
run_netem() {
    local name="$1"
    shift
    timeout 240 "$here/tools/netem.sh" --splitee "$bin" "$@" >"$tmp/$name.csv" 2>"$tmp/$name.err" &
    pid=$!
    wait "$pid"
    rc=$?
    if ip netns list 2>/dev/null | grep -q -- "-$pid\b"; then
        bad "$name: namespaces of PID $pid left behind: $(ip netns list | grep -- "-$pid")"
    else
        ok
    fi
    if ip link show 2>/dev/null | grep -q "spd$pid\|spc$pid"; then bad "$name: veth of PID $pid left behind"; else ok; fi
}

run_netem vit --profiles 3g,lte,wifi --models "$here/data/model" --layers 1,6,11 --samples 9
if [[ $rc -eq 77 ]]; then
    echo "netem: SKIPPED: $(grep SKIPPED "$tmp/vit.err" | head -1)" >&2
    exit 77
fi
[[ $rc -eq 0 ]] && ok || bad "vit: exit $rc: $(grep -v '^netem.sh: sch_netem' "$tmp/vit.err" | tail -3)"
rows=$(grep -c '^\(rate\|netem\),' "$tmp/vit.csv")
[[ $rows -eq 9 ]] && ok || bad "vit: $rows rows, 9 expected"
[[ $(grep -c ',yes$' "$tmp/vit.csv") -eq 9 ]] && ok || bad "vit: not every row within the tolerance: $(cat "$tmp/vit.csv")"
# Where sch_netem is missing, both stderr and the CSV say what was skipped.
if grep -q '^rate,' "$tmp/vit.csv"; then
    grep -q 'delay, jitter, loss and Gilbert-Elliott loss are SKIPPED' "$tmp/vit.err" && ok || bad "rate mode not announced on stderr"
    grep -q '^# rate mode: sch_netem unavailable, delay/jitter/loss/Gilbert-Elliott SKIPPED' "$tmp/vit.csv" && ok ||
        bad "rate mode not stated in the CSV"
fi

run_netem cnn --profiles 3g,lte,wifi --models "$here/tests/fixtures/cnn28" --samples 9
[[ $rc -eq 0 ]] && ok || bad "cnn: exit $rc: $(grep -v '^netem.sh: sch_netem' "$tmp/cnn.err" | tail -3)"
[[ $(grep -c ',yes$' "$tmp/cnn.csv") -eq 6 ]] && ok || bad "cnn: not 6 rows within the tolerance: $(cat "$tmp/cnn.csv")"
# The payload changes with the split point, and so do the predictions.
b1=$(awk -F, '$2 == "3g" && $4 == 1 { print $5 }' "$tmp/cnn.csv")
b2=$(awk -F, '$2 == "3g" && $4 == 2 { print $5 }' "$tmp/cnn.csv")
[[ "$b1" == 4752 && "$b2" == 1616 ]] && ok || bad "cnn: bytes per layer $b1, $b2 (4752, 1616 expected)"

# A link 20 % slower than the profile says: 3G's 20 ms become 25 ms, far
# outside the tolerance, and the script says so and exits 1.
run_netem slow --profiles 3g --models "$here/data/model" --layers 1 --samples 5 --shape-scale 0.8
[[ $rc -eq 1 ]] && ok || bad "slow link: exit $rc, 1 expected"
grep -q 'outside the tolerance: .*,3g,vit,1,' "$tmp/slow.err" && ok || bad "slow link: no line naming the row"

# Bad usage: one line, exit 2, before any namespace is made.
"$here/tools/netem.sh" --splitee "$bin" --samples 1 >/dev/null 2>"$tmp/usage.err"
[[ $? -eq 2 && $(wc -l <"$tmp/usage.err") -eq 1 ]] && ok || bad "--samples 1: $(cat "$tmp/usage.err")"
"$here/tools/netem.sh" --splitee "$bin" --profiles nosuch --samples 3 >/dev/null 2>"$tmp/prof.err"
[[ $? -eq 2 ]] && grep -q 'nosuch: no such profile' "$tmp/prof.err" && ok || bad "unknown profile: $(cat "$tmp/prof.err")"

echo "netem: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
