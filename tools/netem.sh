#!/usr/bin/env bash
# netem.sh -- validates the link-cost simulator (sim/, docs/LINKS.md) on a
# real emulated network: two network namespaces joined by a veth pair, the
# cloud (`splitee cloud`) in one, the device (`splitee device`) in the
# other, each shipped profile's link applied with tc, and every split layer
# forced to offload; the measured offload latency per layer is compared with
# `splitee link`'s prediction for the same link.
#
#   tools/netem.sh [--splitee BIN] [--profiles lte,wifi,3g] [--mode auto|netem|rate]
#                  [--models data/model,tests/fixtures/cnn28] [--layers all|1,6,...]
#                  [--samples N] [--tol-ms A] [--tol-rel R] [--out DIR] [--shape-scale F]
#
# Modes. `netem` (where the kernel has sch_netem): each direction gets the
# profile's rate, half its RTT and jitter, and on the uplink its loss
# (random, or Gilbert-Elliott as netem's `loss gemodel p r 1-h 1-k`); the
# prediction is the mean over draws of the profile with the radio removed
# (a network emulator has no radio promotion) and the veth's TCP framing.
# `rate` (no sch_netem, as on the machines this was written on): only the
# rates are emulated, with a token bucket (`tbf`) per direction; delay,
# jitter, loss and Gilbert-Elliott are skipped, and the prediction is that
# of a derived profile with RTT 0, no loss and no radio, so the simulator
# prices exactly the conditions on the wire. A token bucket lets its burst
# out at once (its smallest burst is one frame), where the simulator
# serialises every bit: rate mode therefore also prints the prediction
# minus the burst's and the reply's serialisation ("adjusted"), and checks
# the tolerance against that. `auto` picks netem when it can be added.
#
# Measured per sample: the device log's rtt_us (send to reply) minus
# cloud_us (the cloud's compute, which it reports), minus the median of the
# same on the plain veth for the same model and layer (the baseline: the
# two kernels' TCP stacks, the cloud's framing and decoding). Each layer's
# row is the median over --samples offloads (samples that had to connect are
# left out; the mean instead where the profile has loss, whose prediction
# is a mean over draws). A row passes when |measured - predicted| <= tol-ms + tol-rel *
# predicted. Output: a CSV on stdout (and DIR/netem.csv with --out), one
# line per problem and a summary on stderr. Exit 0 all rows pass, 1 some
# fail, 2 bad usage or a failed run, 77 namespaces cannot be made here
# (not root, or `ip netns add` refused). --shape-scale F shapes the link at
# F times the profile's rates while predicting at the profile's (1: the
# validation; anything else is a link the simulator was not told about,
# which tests/test_netem.sh uses to check that the comparison can fail).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/build/splitee"
profiles="lte,wifi,3g"
models="$here/data/model,$here/tests/fixtures/cnn28"
layers="all"
samples=20
mode="auto"
tol_ms="0.5"
tol_rel="0.05"
scale=1
out=""
images="$here/tests/fixtures/live/images-48.idx"
labels="$here/tests/fixtures/live/labels-48.idx"

die() { echo "netem.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --splitee) bin="$2"; shift 2 ;;
        --profiles) profiles="$2"; shift 2 ;;
        --models) models="$2"; shift 2 ;;
        --layers) layers="$2"; shift 2 ;;
        --samples) samples="$2"; shift 2 ;;
        --mode) mode="$2"; shift 2 ;;
        --tol-ms) tol_ms="$2"; shift 2 ;;
        --tol-rel) tol_rel="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --shape-scale) scale="$2"; shift 2 ;;
        -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
        *) die "unknown option $1 (--help)" ;;
    esac
done
[[ -x "$bin" ]] || die "$bin: not an executable (build first: tools/build.sh)"
[[ "$samples" =~ ^[0-9]+$ && "$samples" -ge 3 && "$samples" -le 10000 ]] || die "--samples must be an integer in [3, 10000]"
[[ "$mode" =~ ^(auto|netem|rate)$ ]] || die "--mode must be auto, netem or rate"
[[ "$layers" == all || "$layers" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--layers must be all or a comma list of layers"
awk -v a="$tol_ms" -v r="$tol_rel" 'BEGIN { exit !(a + 0 == a && r + 0 == r && a >= 0 && r >= 0) }' ||
    die "--tol-ms and --tol-rel must be numbers >= 0"
awk -v f="$scale" 'BEGIN { exit !(f + 0 == f && f > 0) }' || die "--shape-scale must be a number > 0"

skip() { echo "netem.sh: SKIPPED: $*" >&2; exit 77; }
[[ "$(id -u)" -eq 0 ]] || skip "network namespaces need root (uid $(id -u))"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v tc >/dev/null || skip "no tc command (iproute2)"

# Unique names (the PID) so that parallel runs do not collide; everything
# made is removed on exit, whatever the exit.
ns_d="spl-d-$$"; ns_c="spl-c-$$"; if_d="spd$$"; if_c="spc$$"
ip_d=10.77.0.1; ip_c=10.77.0.2; port=7070
work="$(mktemp -d)"
cloud_pid=""
cleanup() {
    if [[ -n "$cloud_pid" ]]; then kill "$cloud_pid" 2>/dev/null || true; wait "$cloud_pid" 2>/dev/null || true; fi
    ip netns del "$ns_d" 2>/dev/null || true
    ip netns del "$ns_c" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_d" 2>"$work/err" || skip "ip netns add refused: $(head -1 "$work/err")"
ip netns add "$ns_c" 2>"$work/err" || skip "ip netns add refused: $(head -1 "$work/err")"
ip link add "$if_d" type veth peer name "$if_c" 2>"$work/err" || skip "no veth pair: $(head -1 "$work/err")"
ip link set "$if_d" netns "$ns_d"
ip link set "$if_c" netns "$ns_c"
ip -n "$ns_d" addr add "$ip_d/30" dev "$if_d"
ip -n "$ns_c" addr add "$ip_c/30" dev "$if_c"
for n in "$ns_d:$if_d" "$ns_c:$if_c"; do
    ip -n "${n%%:*}" link set lo up
    ip -n "${n%%:*}" link set "${n#*:}" up
    # MSS-sized packets from TCP, so that the shapers see what a radio link
    # would (tbf would segment a larger GSO packet anyway).
    ip -n "${n%%:*}" link set "${n#*:}" gso_max_size 1500 2>/dev/null || true
done
nsd() { ip netns exec "$ns_d" "$@"; }
# Cloud and device run SCHED_FIFO where chrt can set it: on a loaded
# machine the runnable builds would otherwise delay the processes by tens of
# ms and bury the link's few ms.
rt=()
if command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null; then
    rt=(chrt -f 10)
else
    echo "netem.sh: chrt -f unavailable: cloud and device run at normal priority (expect scheduling noise on a loaded machine)" >&2
fi
nsc() { ip netns exec "$ns_c" "$@"; }

has_netem=0
if nsd tc qdisc add dev "$if_d" root netem delay 1ms 2>"$work/err"; then
    has_netem=1
    nsd tc qdisc del dev "$if_d" root
fi
[[ "$mode" == netem && $has_netem -eq 0 ]] && die "--mode netem: sch_netem is unavailable here ($(head -1 "$work/err"))"
if [[ "$mode" == auto ]]; then
    [[ $has_netem -eq 1 ]] && mode=netem || mode=rate
fi
if [[ "$mode" == rate ]]; then
    if [[ $has_netem -eq 0 ]]; then
        echo "netem.sh: sch_netem is unavailable ($(head -1 "$work/err")): delay, jitter, loss and Gilbert-Elliott loss are SKIPPED; only the rates are emulated (tbf), against a derived profile with RTT 0, no loss, no radio" >&2
    else
        echo "netem.sh: --mode rate: delay, jitter, loss and Gilbert-Elliott loss are SKIPPED; only the rates are emulated (tbf), against a derived profile with RTT 0, no loss, no radio" >&2
    fi
fi
nsd tc qdisc add dev "$if_d" root tbf rate 1mbit burst 1600 limit 100000 2>"$work/err" ||
    die "tc cannot add tbf here: $(head -1 "$work/err")"
nsd tc qdisc del dev "$if_d" root

# TCP framing on this veth: MSS and bytes per packet on the wire (Ethernet
# 14 + IPv4 20 + TCP 20, + 12 with timestamps); the simulator is given the
# same, so that it prices the packets the shapers see.
mtu=$(nsd cat "/sys/class/net/$if_d/mtu")
ts=$(nsd sysctl -n net.ipv4.tcp_timestamps)
hdr=$((20 + 20 + (ts != 0 ? 12 : 0)))
mss=$((mtu - hdr))
ovh=$((hdr + 14))
reply_bytes=48   # response frame: 24-byte header + 24-byte body (docs/LIVE.md)

num() {  # num FILE KEY: the first "KEY": NUMBER of a profile (one key per line, as shipped)
    sed -n 's/^[[:space:]]*"'"$1"'"[[:space:]]*:[[:space:]]*\([-0-9.eE+]*\).*/\1/p' "$2" | head -1
}
str() {
    sed -n 's/^[[:space:]]*"'"$1"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$2" | head -1
}
profile_file() { if [[ -f "$1" ]]; then echo "$1"; else echo "$here/data/links/$1.json"; fi; }

# The derived profile the simulator prices: the link on the wire, without
# a radio (no promotion, no tail: a network emulator has none).
derive() {  # derive SHIPPED OUT
    local f="$1" up down rtt jit lm
    up=$(num uplink_mbps "$f"); down=$(num downlink_mbps "$f")
    [[ -n "$up" && -n "$down" ]] || die "$f: no uplink_mbps/downlink_mbps (trace profiles are not emulated here)"
    rtt=0; jit=0; local loss='{"model": "none"}'
    if [[ "$mode" == netem ]]; then
        rtt=$(num rtt_ms "$f"); jit=$(num jitter_ms "$f"); jit=${jit:-0}
        lm=$(str model "$f")
        case "${lm:-none}" in
            none) ;;
            random) loss="{\"model\": \"random\", \"p\": $(num p "$f")}" ;;
            gilbert-elliott)
                loss="{\"model\": \"gilbert-elliott\", \"p\": $(num p "$f"), \"r\": $(num r "$f"), \"1-h\": $(num 1-h "$f"), \"1-k\": $(num 1-k "$f")}" ;;
            *) die "$f: loss model $lm is not emulated" ;;
        esac
    fi
    cat >"$2" <<EOF
{
  "name": "$(basename "$f" .json)-$mode",
  "source": "derived by tools/netem.sh ($mode mode) from $(basename "$f"): no radio, this veth's TCP framing",
  "uplink_mbps": $up,
  "downlink_mbps": $down,
  "rtt_ms": $rtt,
  "jitter_ms": $jit,
  "loss": $loss,
  "tcp": {"mss_bytes": $mss, "overhead_bytes": $ovh, "rto_initial_ms": 1000, "rto_min_ms": 200},
  "result_bytes": $reply_bytes,
  "radio": "none"
}
EOF
}

# Shape both directions for a profile (or none: the plain veth).
burst=1600; bucket=$burst
shape() {  # shape FILE|none
    nsd tc qdisc del dev "$if_d" root 2>/dev/null || true
    nsc tc qdisc del dev "$if_c" root 2>/dev/null || true
    [[ "$1" == none ]] && return 0
    local f="$1" up down
    up=$(awk -v x="$(num uplink_mbps "$f")" -v f="$scale" 'BEGIN { print x * f }')
    down=$(awk -v x="$(num downlink_mbps "$f")" -v f="$scale" 'BEGIN { print x * f }')
    if [[ "$mode" == rate ]]; then
        nsd tc qdisc add dev "$if_d" root tbf rate "${up}mbit" burst "$burst" limit 1000000
        nsc tc qdisc add dev "$if_c" root tbf rate "${down}mbit" burst "$burst" limit 1000000
        # tc rounds the burst to its clock: the bytes it really lets out at once.
        bucket=$(nsd tc qdisc show dev "$if_d" | sed -n 's/.* burst \([0-9]*\)b.*/\1/p')
        [[ -n "$bucket" ]] || die "cannot read the tbf burst back from tc"
        return 0
    fi
    local rtt jit lm half hj loss=()
    rtt=$(num rtt_ms "$f"); jit=$(num jitter_ms "$f"); jit=${jit:-0}
    half=$(awk -v x="$rtt" 'BEGIN { printf "%.3f", x / 2 }')
    hj=$(awk -v x="$jit" 'BEGIN { printf "%.3f", x / 2 }')
    lm=$(str model "$f")
    case "${lm:-none}" in
        random) loss=(loss random "$(awk -v p="$(num p "$f")" 'BEGIN { print p * 100 }')%") ;;
        gilbert-elliott)
            loss=(loss gemodel)
            for k in p r 1-h 1-k; do loss+=("$(awk -v p="$(num "$k" "$f")" 'BEGIN { printf "%s%%", p * 100 }')"); done ;;
    esac
    local dl=(delay "${half}ms"); awk -v j="$jit" 'BEGIN { exit !(j > 0) }' && dl+=("${hj}ms")
    # Loss on the uplink only: the simulator loses the payload's segments.
    nsd tc qdisc add dev "$if_d" root netem rate "${up}mbit" "${dl[@]}" "${loss[@]}" limit 100000
    nsc tc qdisc add dev "$if_c" root netem rate "${down}mbit" "${dl[@]}" limit 100000
}

# Plaintext (--insecure-plaintext) on purpose: the veth pair is a private
# link between two namespaces this script made, and TLS's handshake and
# record overhead would be measured as link latency.
# Measured offload latencies (us) of one device run: rtt_us - cloud_us of
# every offloaded sample at LAYER that did not connect.
run_device() {  # run_device MODEL LAYER INTERVAL_S LOG
    local code=0
    timeout 300 ip netns exec "$ns_d" "${rt[@]}" "$bin" device --insecure-plaintext --cloud "$ip_c:$port" --model "$1" \
        --policy "fixed:$2" --alpha 1 --images "$images" --labels "$labels" --limit "$samples" \
        --interval "$3" --timeout 10 --quiet --no-progress --log "$4" 2>"$work/dev.err" || code=$?
    [[ $code -eq 0 ]] || die "device run failed (model $1, layer $2, exit $code): $(tail -1 "$work/dev.err")"
}
lat_of() {  # lat_of LOG LAYER -> one value (us) per line
    awk -v L="$2" '
        function f(k,   m) { if (match($0, "\"" k "\":[^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m } return "" }
        f("outcome") == "\"offloaded\"" && f("layer") == L && f("reconnects") == 0 { printf "%.3f %s\n", f("rtt_us") - f("cloud_us"), f("bytes") }' "$1"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start_cloud() {  # start_cloud MODEL
    ip netns exec "$ns_c" "${rt[@]}" "$bin" cloud --insecure-plaintext --model "$1" --listen "$ip_c:$port" --workers 1 2>"$work/cloud.err" &
    cloud_pid=$!
    local _
    for _ in $(seq 1 100); do   # at most 10 s
        grep -q "listening" "$work/cloud.err" 2>/dev/null && return 0
        kill -0 "$cloud_pid" 2>/dev/null || die "cloud did not start: $(tail -1 "$work/cloud.err")"
        sleep 0.1
    done
    die "cloud did not start within 10 s"
}
stop_cloud() {
    kill "$cloud_pid" 2>/dev/null || true
    wait "$cloud_pid" 2>/dev/null || true
    cloud_pid=""
}

csv="$work/netem.csv"
echo "mode,profile,model,layer,bytes,predicted_ms,adjusted_ms,measured_ms,baseline_ms,samples,error_ms,allowed_ms,ok" >"$csv"
fails=0; rows=0
IFS=, read -r -a plist <<<"$profiles"
IFS=, read -r -a mlist <<<"$models"
for p in "${plist[@]}"; do
    pf="$(profile_file "$p")"; [[ -f "$pf" ]] || die "$p: no such profile ($pf)"
    derive "$pf" "$work/$(basename "$pf" .json).derived.json"
done
for m in "${mlist[@]}"; do
    [[ -f "$m/model.json" ]] || die "$m: no model.json"
    mname="$(basename "$m")"; [[ "$mname" == model ]] && mname=vit
    start_cloud "$m"
    # The layers that can offload: every row of `splitee link` but the last.
    first="$work/$(basename "$(profile_file "${plist[0]}")" .json).derived.json"
    all=$("$bin" link --link "$first" --model "$m" | awk '$1 ~ /^[0-9]+$/ && $2 !~ /^[(]/ { print $1 }' | tr '\n' ' ')
    [[ "$layers" == all ]] && lset="$all" || lset="${layers//,/ }"
    declare -A base=()
    for L in $lset; do
        [[ " $all " == *" $L "* ]] || die "$m: layer $L cannot offload (layers: $all)"
        shape none
        run_device "$m" "$L" 0.02 "$work/base.jsonl"
        base[$L]=$(lat_of "$work/base.jsonl" "$L" | median)
        [[ "${base[$L]}" != nan ]] || die "$m layer $L: no offloaded sample on the plain veth ($(tail -1 "$work/dev.err"))"
    done
    for p in "${plist[@]}"; do
        pf="$(profile_file "$p")"; pn="$(basename "$pf" .json)"; df="$work/$pn.derived.json"
        "$bin" link --link "$df" --model "$m" >"$work/pred.txt"
        up=$(num uplink_mbps "$pf"); down=$(num downlink_mbps "$pf")
        shape "$pf"
        for L in $lset; do
            read -r pbytes pred < <(awk -v L="$L" '$1 == "layer" { for (i = 1; i <= NF; i++) c[$i] = i }
                $1 == L && c["bytes"] { print $c["bytes"], $c["latency_ms"] }' "$work/pred.txt")
            [[ -n "${pred:-}" ]] || die "$pn $m layer $L: no prediction from splitee link"
            # rate mode: the bucket's burst and the one-packet reply leave at once.
            adj=$(awk -v m="$mode" -v p="$pred" -v b="$bucket" -v up="$up" -v dn="$down" -v r="$reply_bytes" -v o="$ovh" \
                'BEGIN { if (m == "rate") p -= b * 8 / (up * 1e3) + (r + o) * 8 / (dn * 1e3); printf "%.4f", p }')
            iv=$(awk -v p="$pred" 'BEGIN { printf "%.3f", p * 2 / 1e3 + 0.02 }')   # the buckets refill between offloads
            run_device "$m" "$L" "$iv" "$work/run.jsonl"
            lat_of "$work/run.jsonl" "$L" >"$work/lat.txt"
            n=$(wc -l <"$work/lat.txt")
            [[ $n -gt 0 ]] || die "$pn $m layer $L: no offloaded sample ($(tail -1 "$work/dev.err"))"
            wbytes=$(awk '{ print $2; exit }' "$work/lat.txt")
            [[ "$wbytes" == "$pbytes" ]] || die "$pn $m layer $L: the device sent $wbytes bytes, the simulator priced $pbytes"
            if [[ "$(str model "$pf")" =~ ^(random|gilbert-elliott)$ && "$mode" == netem ]]; then
                med=$(awk '{ s += $1 } END { printf "%.3f", s / NR }' "$work/lat.txt")
            else
                med=$(awk '{ print $1 }' "$work/lat.txt" | median)
            fi
            line=$(awk -v md="$mode" -v pn="$pn" -v mn="$mname" -v L="$L" -v by="$pbytes" -v p="$pred" -v a="$adj" \
                -v med="$med" -v b="${base[$L]}" -v n="$n" -v ta="$tol_ms" -v tr="$tol_rel" 'BEGIN {
                    meas = (med - b) / 1e3; err = meas - a; allow = ta + tr * a; ok = (err <= allow && -err <= allow)
                    printf "%s,%s,%s,%s,%s,%.3f,%.3f,%.3f,%.3f,%d,%.3f,%.3f,%s", md, pn, mn, L, by, p, a, meas, b / 1e3, n, err, allow, ok ? "yes" : "no" }')
            echo "$line" >>"$csv"
            rows=$((rows + 1))
            if [[ "$line" == *,no ]]; then
                fails=$((fails + 1))
                echo "netem.sh: outside the tolerance: $line" >&2
            fi
        done
    done
    unset base
    stop_cloud
done
shape none
if [[ "$mode" == rate ]]; then
    echo "# rate mode: sch_netem unavailable, delay/jitter/loss/Gilbert-Elliott SKIPPED; adjusted = predicted - tbf burst ($bucket B) at the uplink rate - the reply at the downlink rate" >>"$csv"
fi
cat "$csv"
if [[ -n "$out" ]]; then
    mkdir -p "$out"
    cp "$csv" "$out/netem.csv.tmp" && mv "$out/netem.csv.tmp" "$out/netem.csv"
fi
echo "netem.sh: $mode mode, $rows rows, $fails outside |error| <= $tol_ms ms + $tol_rel x predicted" >&2
[[ $fails -eq 0 ]]
