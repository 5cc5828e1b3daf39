#!/usr/bin/env bash
# test_live.sh -- live split computing on loopback with a real cloud and
# real device processes (docs/LIVE.md): counts add up; stopping the cloud
# mid-stream still accounts for every sample and the device reconnects to
# a restarted cloud; garbage sent to the server (random bytes, a bad
# magic, an oversized length, a bad checksum, a truncated frame) closes
# only that connection and later devices are still served; --state
# persists; a half-sent frame and an idle connection are closed after
# their timeouts while a device is served, a third connection from one
# address is refused under --max-per-peer 2, connect/close churn gives its
# slots back, a device names the peer when a fresh connection fails; bad
# options exit 2 with one line; SIGTERM stops the cloud cleanly. Runs from tests/ with the binary as $1; ports are ephemeral.
set -uo pipefail
bin="$(realpath "$1")"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

M="--model ../data/model"
I="--images fixtures/live/images-48.idx --labels fixtures/live/labels-48.idx"
# A generous request timeout where no fallback is expected: a sanitizer
# build on a loaded machine can take seconds per request.
W="--timeout 20"

# start_cloud LOG [ADDR]: starts a cloud, sets $cloud_pid and $port
start_cloud() {
    local log="$1" addr="${2:-127.0.0.1:0}"
    $bin cloud $M --listen "$addr" --workers 2 2> "$log" &
    cloud_pid=$!
    pids+=("$cloud_pid")
    port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log")
        [[ -n "$port" ]] && return 0
        sleep 0.05
    done
    echo "cloud did not start: $(cat "$log")" >&2
    return 1
}

# counts FILE: "samples exited offloaded fallback" from a device's stdout
counts() {
    sed -n 's/^samples \([0-9]*\): exited \([0-9]*\), offloaded \([0-9]*\), fallback \([0-9]*\)$/\1 \2 \3 \4/p' "$1"
}

# adds_up NAME FILE LIMIT: samples == LIMIT == exited + offloaded + fallback
adds_up() {
    local s e o f
    read -r s e o f < <(counts "$2")
    if [[ -z "${s:-}" ]]; then bad "$1: no summary"; cat "$2" >&2; return 1; fi
    if [[ $s -ne $3 || $((e + o + f)) -ne $s ]]; then bad "$1: counts $s $e $o $f (limit $3)"; return 1; fi
    ok
}

start_cloud "$tmp/cloud1.log" || exit 1

# --- a device learns against the cloud; counts, log and JSON agree
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 48 --eval --log "$tmp/r.jsonl" \
    --json "$tmp/r.json" --state "$tmp/state.json" > "$tmp/d1.out" 2> "$tmp/d1.err" \
    || bad "device run: exit $? $(cat "$tmp/d1.err")"
adds_up basic "$tmp/d1.out" 48
read -r s e o f < <(counts "$tmp/d1.out")
[[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "basic: offloaded ${o:-?} fallback ${f:-?}"
[[ $(wc -l < "$tmp/r.jsonl") -eq 48 ]] && ok || bad "log has $(wc -l < "$tmp/r.jsonl") lines"
[[ $(grep -c '"outcome":"offloaded"' "$tmp/r.jsonl") -eq ${o:-x} ]] && ok || bad "log and summary disagree"
grep -q '"samples":[[:space:]]*48' "$tmp/r.json" && grep -q '"realized"' "$tmp/r.json" && grep -q '"pseudo_regret"' "$tmp/r.json" \
    && ok || bad "summary JSON incomplete"
grep -q '^controller [0-9]* ns/round' "$tmp/d1.out" && ok || bad "no controller overhead line"

# --- the same seed gives the same decisions (the cloud answers the same)
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 48 --log "$tmp/r2.jsonl" > /dev/null 2>&1
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 48 --log "$tmp/r3.jsonl" > /dev/null 2>&1
cut_log() { sed 's/,"bytes".*//' "$1"; }
diff <(cut_log "$tmp/r2.jsonl") <(cut_log "$tmp/r3.jsonl") > /dev/null && ok || bad "same seed, different rounds"

# --- f16/int8 payloads are served too
for enc in f16 int8; do
    $bin device $M --cloud 127.0.0.1:$port $I $W --limit 20 --encoding $enc --policy fixed:2 --alpha 0.99 \
        > "$tmp/enc.out" 2>&1 || bad "$enc: exit $?"
    read -r s e o f < <(counts "$tmp/enc.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "$enc: offloaded ${o:-?} fallback ${f:-?}"
done

# --- a simulated LTE link prices offloads (and --sleep follows its latency)
$bin device $M --cloud 127.0.0.1:$port $I --limit 12 --link ../data/links/lte.json --sleep \
    --policy fixed:2 --alpha 0.99 --log "$tmp/link.jsonl" > "$tmp/link.out" 2> "$tmp/link.err" \
    || bad "--link: exit $? $(cat "$tmp/link.err")"
adds_up link "$tmp/link.out" 12
grep -q '"energy_mJ"' "$tmp/link.jsonl" && ok || bad "--link: no link fields in the log"
# the link's clock is the sum of simulated latencies: two identical runs on a
# lossy, jittery link give the same rounds (only measured times may differ)
for k in 1 2; do
    $bin device $M --cloud 127.0.0.1:$port $I --limit 16 --link ../data/links/lte-ge.json --policy splitee-s \
        --quiet --eval --timeout 20 --log "$tmp/rep$k.jsonl" 2> /dev/null || bad "--link reproducibility run $k: exit $?"
    sed -E 's/"(device_us|rtt_us|cloud_us|controller_ns)":[^,]*,//g' "$tmp/rep$k.jsonl" > "$tmp/rep$k.txt"
done
cmp -s "$tmp/rep1.txt" "$tmp/rep2.txt" && [[ -s "$tmp/rep1.txt" ]] && ok \
    || bad "--link: two identical runs differ: $(diff "$tmp/rep1.txt" "$tmp/rep2.txt" | head -3)"
# the device's confidence measure travels with each request: a cloud that
# answers any measure serves an entropy device; one restricted to
# max-softmax refuses it, and every offload falls back
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 24 --confidence entropy --alpha 0.9 --policy fixed:2 \
    > "$tmp/ent.out" 2> "$tmp/ent.err" || bad "--confidence entropy: exit $? $(cat "$tmp/ent.err")"
read -r s e o f < <(counts "$tmp/ent.out")
[[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "--confidence entropy: counts ${s:-} ${e:-} ${o:-} ${f:-}"
$bin cloud $M --listen 127.0.0.1:0 --workers 1 --confidence max-softmax 2> "$tmp/cloud-ms.log" &
ms_pid=$!; pids+=("$ms_pid")
ms_port=""
for _ in $(seq 100); do
    ms_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/cloud-ms.log")
    [[ -n "$ms_port" ]] && break
    sleep 0.05
done
$bin device $M --cloud 127.0.0.1:$ms_port $I $W --limit 24 --confidence entropy --alpha 0.9 --policy fixed:2 \
    > "$tmp/ent2.out" 2> "$tmp/ent2.err"
read -r s e o f < <(counts "$tmp/ent2.out")
[[ ${o:-1} -eq 0 && ${f:-0} -gt 0 ]] && ok || bad "a max-softmax cloud served entropy: counts ${s:-} ${e:-} ${o:-} ${f:-}"
kill "$ms_pid" 2> /dev/null; wait "$ms_pid" 2> /dev/null
refuse_link=$($bin device $M --cloud none $I --link nope.json 2>&1 >/dev/null; echo "rc=$?")
[[ "$refuse_link" == *"nope.json"*"rc=2" ]] && ok || bad "--link nope.json: $refuse_link"

# --- --state persists across restarts
grep -q '"rounds":[[:space:]]*48' "$tmp/state.json" && ok || bad "state after 48 rounds: $(head -c 200 "$tmp/state.json")"
$bin device $M --cloud 127.0.0.1:$port $I --limit 10 --state "$tmp/state.json" > /dev/null 2> "$tmp/d2.err"
grep -q 'resumed after 48 rounds' "$tmp/d2.err" && ok || bad "state not loaded: $(cat "$tmp/d2.err")"
grep -q '"rounds":[[:space:]]*58' "$tmp/state.json" && ok || bad "state not saved after 58 rounds"
echo '{"kind": "splitee", "arms": 3}' > "$tmp/bad-state.json"
$bin device $M --cloud 127.0.0.1:$port $I --limit 5 --state "$tmp/bad-state.json" > /dev/null 2> "$tmp/bs.err"
rc=$?
[[ $rc -eq 2 && $(wc -l < "$tmp/bs.err") -eq 1 ]] && grep -q 'bad-state.json' "$tmp/bs.err" && ok \
    || bad "bad state: exit $rc: $(cat "$tmp/bs.err")"

# --- garbage to the server: each closes only its own connection
send() { # send BYTES-COMMAND: pipes its output to the cloud, then closes
    "$@" > "$tmp/garbage.bin"
    exec 3<>"/dev/tcp/127.0.0.1/$port" || { bad "cannot connect to the cloud"; return; }
    cat "$tmp/garbage.bin" >&3
    sleep 0.2
    exec 3>&-
}
hdr() { # hdr TYPE ENCODING LENGTH(hex LE, 8 digits) CRC(hex LE): a 24-byte header
    printf "SPLW\\x01\\x00\\x$1\\x$2\\x07\\x00\\x00\\x00\\x01\\x00\\x00\\x00"
    printf "\\x${3:0:2}\\x${3:2:2}\\x${3:4:2}\\x${3:6:2}\\x${4:0:2}\\x${4:2:2}\\x${4:4:2}\\x${4:6:2}"
}
send head -c 300 /dev/urandom
send printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
send hdr 01 00 ffffff7f 00000000
send bash -c "$(declare -f hdr); hdr 01 00 04000000 00000000; printf abcd"
send bash -c "$(declare -f hdr); hdr 01 00 64000000 00000000; printf 0123456789"
send hdr 02 00 00000000 00000000
sleep 0.3
kill -0 "$cloud_pid" 2>/dev/null && ok || bad "the cloud died on garbage"
for want in 'closed: wire: bad magic' 'closed: wire: oversized frame' 'closed: wire: checksum mismatch' \
            'closed: wire: truncated frame' 'closed: wire: unexpected response frame'; do
    grep -q "127\.0\.0\.1:[0-9]*: $want" "$tmp/cloud1.log" && ok || bad "cloud log lacks '$want'"
done
[[ $(grep -c 'closed: wire: bad magic' "$tmp/cloud1.log") -ge 2 ]] && ok || bad "random bytes and HTTP not both refused"
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 20 --policy fixed:1 --alpha 0.99 > "$tmp/after.out" 2>&1
read -r s e o f < <(counts "$tmp/after.out")
[[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "device after garbage: offloaded ${o:-?} fallback ${f:-?}"

# --- several devices at once
devs=()
for k in 1 2 3 4; do
    $bin device $M --cloud 127.0.0.1:$port $I $W --limit 48 --seed $k > "$tmp/par$k.out" 2>&1 &
    devs+=($!)
done
for p in "${devs[@]}"; do wait "$p"; done
for k in 1 2 3 4; do
    read -r s e o f < <(counts "$tmp/par$k.out")
    [[ ${s:-0} -eq 48 && ${f:-1} -eq 0 ]] && ok || bad "parallel device $k: ${s:-?} samples, fallback ${f:-?}"
done

# --- the cloud stops mid-stream, then comes back on the same port (48
# samples at 0.1 s: about 3.6 s of stream after the restart, so the
# device's reconnect backoff, capped at 0.4 s, is well inside it even on a
# loaded machine, where the restarted cloud may take a second to listen)
$bin device $M --cloud 127.0.0.1:$port $I --limit 48 --policy fixed:1 --alpha 0.99 --interval 0.1 \
    --timeout 0.3 --backoff-max 0.4 --log "$tmp/mid.jsonl" > "$tmp/mid.out" 2> "$tmp/mid.err" &
dev=$!
sleep 0.6
kill -TERM "$cloud_pid"
wait "$cloud_pid"
rc=$?
[[ $rc -eq 0 ]] && ok || bad "cloud exit $rc on SIGTERM"
grep -q 'stopped after' "$tmp/cloud1.log" && ok || bad "no shutdown line"
sleep 0.6
start_cloud "$tmp/cloud2.log" "127.0.0.1:$port" || bad "cannot restart the cloud on $port"
wait "$dev" || bad "device exit $? after the cloud stopped: $(cat "$tmp/mid.err")"
adds_up midstream "$tmp/mid.out" 48
read -r s e o f < <(counts "$tmp/mid.out")
[[ ${f:-0} -gt 0 ]] && ok || bad "midstream: no fallback"
first_fb=$(grep -n '"outcome":"fallback"' "$tmp/mid.jsonl" | head -n 1 | cut -d: -f1)
tail -n +"${first_fb:-1}" "$tmp/mid.jsonl" | grep -q '"outcome":"offloaded"' && ok \
    || bad "midstream: the device did not reconnect to the restarted cloud"

# --- --max-clients: a connection beyond it is closed at accept (logged)
$bin cloud $M --listen 127.0.0.1:0 --workers 1 --max-clients 1 2> "$tmp/cloud3.log" &
cloud_pid=$!; pids+=("$cloud_pid")
for _ in $(seq 100); do
    port3=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/cloud3.log")
    [[ -n "$port3" ]] && break; sleep 0.05
done
exec 4<>"/dev/tcp/127.0.0.1/$port3"
sleep 0.2
$bin device $M --cloud 127.0.0.1:$port3 $I --limit 6 --policy fixed:1 --alpha 0.99 > "$tmp/max.out" 2>&1
exec 4>&-
adds_up max-clients "$tmp/max.out" 6
read -r s e o f < <(counts "$tmp/max.out")
[[ ${f:-0} -gt 0 && ${o:-1} -eq 0 ]] && ok || bad "max-clients: offloaded ${o:-?} fallback ${f:-?}"
grep -q 'closed: refused, 1 clients already' "$tmp/cloud3.log" && ok || bad "max-clients: no refusal logged"
# the device says why a freshly opened connection failed, naming the peer
grep -q "fallback: new connection to 127\.0\.0\.1:$port3 failed its first request: 127\.0\.0\.1:$port3 closed the connection" \
    "$tmp/max.out" && ok || bad "device: no line for a fresh connection's failure: $(grep fallback "$tmp/max.out" | head -2)"
kill "$cloud_pid"

# --- misbehaving peers: timeouts, a per-address cap, churn
# start_cloud2 LOG ARGS...: a cloud with extra options; sets $cloud_pid and $port5
start_cloud2() {
    local log="$1"; shift
    $bin cloud $M --listen 127.0.0.1:0 "$@" 2> "$log" &
    cloud_pid=$!; pids+=("$cloud_pid")
    port5=""
    for _ in $(seq 100); do
        port5=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log")
        [[ -n "$port5" ]] && return 0
        sleep 0.05
    done
    bad "cloud did not start: $(cat "$log")"
    return 1
}
# wait_log LOG PATTERN: up to 5 s for a line matching PATTERN
wait_log() {
    for _ in $(seq 100); do grep -q -- "$2" "$1" && return 0; sleep 0.05; done
    return 1
}
if start_cloud2 "$tmp/cloud5.log" --workers 1 --frame-timeout 0.3 --idle-timeout 1.5; then
    # half a frame, then a stall: closed after the frame timeout; a device is served meanwhile
    exec 5<>"/dev/tcp/127.0.0.1/$port5"
    hdr 01 00 64000000 00000000 >&5
    printf 0123456789 >&5
    # an idle connection: nothing at all
    exec 6<>"/dev/tcp/127.0.0.1/$port5"
    $bin device $M --cloud 127.0.0.1:$port5 $I $W --limit 20 --policy fixed:1 --alpha 0.99 --interval 0.05 \
        > "$tmp/stall.out" 2>&1 || bad "device beside a stalled client: exit $?"
    read -r s e o f < <(counts "$tmp/stall.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "device beside a stalled client: offloaded ${o:-?} fallback ${f:-?}"
    wait_log "$tmp/cloud5.log" 'closed: timeout: a frame begun .* (34 bytes; frame timeout 0.3 s)' && ok \
        || bad "half a frame not timed out: $(cat "$tmp/cloud5.log")"
    wait_log "$tmp/cloud5.log" "127\.0\.0\.1:[0-9]*: closed: timeout: no request for .* (idle timeout 1.5 s)" && ok \
        || bad "idle connection not timed out: $(cat "$tmp/cloud5.log")"
    exec 5>&- 6>&-
    kill "$cloud_pid"
fi
if start_cloud2 "$tmp/cloud7.log" --workers 1 --idle-timeout 0.3; then
    # a device slower than the idle timeout: the cloud closes its idle
    # connection between samples, and the device opens a new one (no fallback)
    $bin device $M --cloud 127.0.0.1:$port5 $I $W --limit 4 --policy fixed:1 --alpha 0.99 --interval 0.6 \
        > "$tmp/slow.out" 2>&1 || bad "slow device: exit $?"
    read -r s e o f < <(counts "$tmp/slow.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "device slower than the idle timeout: offloaded ${o:-?} fallback ${f:-?}"
    grep -q 'closed: timeout: no request for' "$tmp/cloud7.log" && ok || bad "slow device: its idle connection was not closed"
    kill "$cloud_pid"
fi
if start_cloud2 "$tmp/cloud6.log" --workers 1 --max-per-peer 2 --max-clients 3; then
    # three connections from one address, max-per-peer 2: the third is refused and logged
    exec 5<>"/dev/tcp/127.0.0.1/$port5" 6<>"/dev/tcp/127.0.0.1/$port5" 7<>"/dev/tcp/127.0.0.1/$port5"
    wait_log "$tmp/cloud6.log" 'closed: refused, 2 connections from this address already (max-per-peer)' && ok \
        || bad "max-per-peer: no refusal logged: $(cat "$tmp/cloud6.log")"
    exec 5>&- 6>&- 7>&-
    # connect/close churn, then a device is served: closed connections gave their slots back
    for _ in $(seq 60); do exec 8<>"/dev/tcp/127.0.0.1/$port5" && exec 8>&-; done
    sleep 0.3
    $bin device $M --cloud 127.0.0.1:$port5 $I $W --limit 10 --policy fixed:1 --alpha 0.99 \
        > "$tmp/churn.out" 2>&1 || bad "device after churn: exit $?"
    read -r s e o f < <(counts "$tmp/churn.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "device after churn: offloaded ${o:-?} fallback ${f:-?} $(tail -3 "$tmp/cloud6.log")"
    kill "$cloud_pid"
fi

# --- no cloud at all: every offload falls back
$bin device $M --cloud none $I --limit 12 --policy fixed:1 --alpha 0.99 > "$tmp/none.out" 2>&1
adds_up none "$tmp/none.out" 12
read -r s e o f < <(counts "$tmp/none.out")
[[ ${o:-1} -eq 0 && ${f:-0} -gt 0 ]] && ok || bad "no cloud: offloaded ${o:-?} fallback ${f:-?}"
! grep -q 'fallback:' "$tmp/none.out" && ok || bad "--cloud none is not quiet: $(grep fallback: "$tmp/none.out" | head -2)"

# --- every policy and policy parameter of replay, live (oracle aside)
for pol in sw-ucb d-ucb-s thompson epsilon-greedy; do
    $bin device $M --cloud 127.0.0.1:$port $I $W --limit 12 --policy $pol --window 5 --discount 0.9 \
        --prior-sd 0.3 --epsilon 0.2 --beta 0.5 --no-progress > "$tmp/pol.out" 2>&1
    adds_up "policy $pol" "$tmp/pol.out" 12
done
# --distort NAME (device's old spelling) is --domain NAME; --noise-seed changes the noise
dlog() { $bin device $M --cloud none $I --limit 12 --policy fixed:3 --alpha 0.5 "$@" --log "$tmp/dl.jsonl" > /dev/null 2>&1; cut -d, -f1-6 "$tmp/dl.jsonl"; }
a=$(dlog --domain noise); b=$(dlog --distort noise); c=$(dlog --distort noise:0.2 --noise-seed 20231101)
d=$(dlog --distort noise:0.2 --noise-seed 99); e=$(dlog)
[[ -n "$a" && "$a" == "$b" && "$a" == "$c" ]] && ok || bad "device: --domain noise, --distort noise and --distort noise:0.2 differ"
[[ "$a" != "$d" || "$a" != "$e" ]] && ok || bad "device: the noise seed and the domain change nothing"
# --config works for device too; flags override it
echo '{"cloud": "none", "policy": "fixed:1", "alpha": 0.99, "limit": 30}' > "$tmp/dev.json"
$bin device $M $I --config "$tmp/dev.json" --limit 9 > "$tmp/cfg.out" 2>&1
adds_up config "$tmp/cfg.out" 9
# the cloud's defaults work from any folder: the catalogue's model
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && exec $bin cloud --listen 127.0.0.1:0 --workers 1) 2> "$tmp/cloud4.log" &
cloud_pid=$!; pids+=("$cloud_pid")
for _ in $(seq 100); do grep -q 'listening on' "$tmp/cloud4.log" && break; sleep 0.05; done
grep -q 'listening on 127\.0\.0\.1:' "$tmp/cloud4.log" && ok || bad "cloud with its default model: $(cat "$tmp/cloud4.log")"
kill "$cloud_pid"

# --- a version 2 model live: the CNN fixture (fixtures/cnn28, (1, 28, 28)
# input) on both sides; its payload after layer 2 is 8x7x7 floats
C28="--model fixtures/cnn28"
$bin cloud $C28 --listen 127.0.0.1:0 --workers 2 2> "$tmp/cloud-v2.log" &
v2_pid=$!; pids+=("$v2_pid")
v2_port=""
for _ in $(seq 100); do
    v2_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/cloud-v2.log")
    [[ -n "$v2_port" ]] && break
    sleep 0.05
done
if [[ -n "$v2_port" ]]; then
    $bin device $C28 --cloud 127.0.0.1:$v2_port $I $W --limit 20 --policy fixed:2 --alpha 0.99 \
        --log "$tmp/v2.jsonl" > "$tmp/v2.out" 2> "$tmp/v2.err" || bad "v2 device: exit $? $(cat "$tmp/v2.err")"
    adds_up v2-fixed "$tmp/v2.out" 20
    read -r s e o f < <(counts "$tmp/v2.out")
    [[ ${o:-0} -eq 20 && ${f:-1} -eq 0 ]] && ok || bad "v2 fixed:2: offloaded ${o:-?} fallback ${f:-?}"
    [[ $(grep -c '"layer":2,"outcome":"offloaded".*"bytes":1616,' "$tmp/v2.jsonl") -eq 20 ]] && ok \
        || bad "v2: offloads are not 8x7x7 f32 payloads (1592 + 24 bytes): $(head -1 "$tmp/v2.jsonl")"
    $bin device $C28 --cloud 127.0.0.1:$v2_port $I $W --limit 48 --policy splitee --alpha 0.14 --encoding int8 \
        > "$tmp/v2b.out" 2> "$tmp/v2b.err" || bad "v2 device (splitee, int8): exit $? $(cat "$tmp/v2b.err")"
    adds_up v2-splitee "$tmp/v2b.out" 48
    read -r s e o f < <(counts "$tmp/v2b.out")
    [[ ${f:-1} -eq 0 ]] && ok || bad "v2 splitee: fallback ${f:-?}"
else
    bad "v2 cloud did not start: $(cat "$tmp/cloud-v2.log")"
fi
kill "$v2_pid" 2>/dev/null
wait "$v2_pid" 2>/dev/null
grep -q 'stopped after' "$tmp/cloud-v2.log" && ok || bad "v2 cloud did not stop cleanly: $(tail -2 "$tmp/cloud-v2.log")"

# --- the shipped CNN live (data/cnn, 10 stages): a cloud and a device on it,
# the device learning its split on the simulated LTE link; every offload
# carries the activation of its split point, 12,544 values after stage 1
# shrinking to 1,024 (f32, a 24-byte payload header and a 24-byte frame header)
CN="--model ../data/cnn"
$bin cloud $CN --listen 127.0.0.1:0 --workers 2 2> "$tmp/cloud-cnn.log" &
cnn_pid=$!; pids+=("$cnn_pid")
cnn_port=""
for _ in $(seq 100); do
    cnn_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$tmp/cloud-cnn.log")
    [[ -n "$cnn_port" ]] && break
    sleep 0.05
done
if [[ -n "$cnn_port" ]]; then
    $bin device $CN --cloud 127.0.0.1:$cnn_port $I $W --limit 48 --policy splitee-s --link ../data/links/lte.json \
        --eval --log "$tmp/cnn.jsonl" > "$tmp/cnn.out" 2> "$tmp/cnn.err" || bad "cnn device: exit $? $(cat "$tmp/cnn.err")"
    adds_up cnn-splitee-s "$tmp/cnn.out" 48
    read -r s e o f < <(counts "$tmp/cnn.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "cnn splitee-s: offloaded ${o:-?} fallback ${f:-?}"
    # each offload's bytes are its split point's activation
    want_bytes() { case $1 in 1) echo $((12544 * 4 + 48)) ;; 2|3) echo $((4704 * 4 + 48)) ;;
        4|5) echo $((1568 * 4 + 48)) ;; 6|7) echo $((2352 * 4 + 48)) ;; 8|9) echo $((1024 * 4 + 48)) ;; esac; }
    wrong=0
    while read -r l b; do [[ "$b" == "$(want_bytes "$l")" ]] || wrong=$((wrong + 1)); done \
        < <(sed -n 's/.*"layer":\([0-9]*\),"outcome":"offloaded".*"bytes":\([0-9]*\),.*/\1 \2/p' "$tmp/cnn.jsonl")
    [[ $wrong -eq 0 && $(grep -c '"outcome":"offloaded"' "$tmp/cnn.jsonl") -eq ${o:-x} ]] && ok \
        || bad "cnn: $wrong offloads whose bytes are not their split point's activation: $(grep -m1 offloaded "$tmp/cnn.jsonl")"
    $bin device $CN --cloud 127.0.0.1:$cnn_port $I $W --limit 20 --policy fixed:1 --alpha 0.99 --encoding int8 \
        > "$tmp/cnn8.out" 2> "$tmp/cnn8.err" || bad "cnn device (int8): exit $? $(cat "$tmp/cnn8.err")"
    read -r s e o f < <(counts "$tmp/cnn8.out")
    [[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "cnn int8: offloaded ${o:-?} fallback ${f:-?}"
else
    bad "cnn cloud did not start: $(cat "$tmp/cloud-cnn.log")"
fi
kill "$cnn_pid" 2>/dev/null
wait "$cnn_pid" 2>/dev/null
grep -q 'stopped after' "$tmp/cloud-cnn.log" && ok || bad "cnn cloud did not stop cleanly: $(tail -2 "$tmp/cloud-cnn.log")"

# --- bad options: exit 2, one line, no output files
refuse() {
    local name="$1" pattern="$2"; shift 2
    rm -rf "$tmp/out"; mkdir -p "$tmp/out"
    "$@" > /dev/null 2> "$tmp/err.txt"
    local rc=$?
    if [[ $rc -ne 2 ]]; then bad "$name: exit $rc, expected 2 ($(cat "$tmp/err.txt"))"
    elif [[ $(wc -l < "$tmp/err.txt") -ne 1 ]]; then bad "$name: not one line: $(cat "$tmp/err.txt")"
    elif ! grep -q -- "$pattern" "$tmp/err.txt"; then bad "$name: '$(cat "$tmp/err.txt")' lacks '$pattern'"
    elif [[ -n "$(ls -A "$tmp/out")" ]]; then bad "$name: left files: $(ls "$tmp/out")"
    else ok; fi
}
O="--log $tmp/out/l.jsonl --json $tmp/out/s.json --state $tmp/out/st.json"
refuse no-cloud '--cloud' $bin device $M $I $O
refuse bad-cloud '--cloud: expected HOST:PORT' $bin device $M --cloud localhost $I $O
refuse bad-policy '--policy: unknown policy' $bin device $M --cloud none --policy nope $I $O
refuse bad-encoding 'int4' $bin device $M --cloud none --encoding int4 $I $O
refuse bad-alpha '--alpha' $bin device $M --cloud none --alpha 2 $I $O
refuse bad-images 'nope.idx' $bin device $M --cloud none --images nope.idx $O
refuse fixed-range 'fixed:13' $bin device $M --cloud none --policy fixed:13 $I $O
refuse bad-listen '--listen' $bin cloud $M --listen 127.0.0.1
refuse bad-workers '--workers' $bin cloud $M --workers 0
refuse bad-max-per-peer '--max-per-peer' $bin cloud $M --max-per-peer 0 --listen 127.0.0.1:0
refuse bad-idle-timeout '--idle-timeout' $bin cloud $M --idle-timeout -1 --listen 127.0.0.1:0
refuse bad-frame-timeout '--frame-timeout' $bin cloud $M --frame-timeout x --listen 127.0.0.1:0
refuse bad-model 'nope' $bin cloud --model nope --listen 127.0.0.1:0
refuse bogus "unknown option '--bogus' (see splitee device --help)" $bin device $M --bogus $I $O
refuse oracle 'oracle needs every sample' $bin device $M --cloud none --policy oracle $I $O
refuse cloud-bad-confidence "--confidence: expected any or one of" $bin cloud $M --confidence nope --listen 127.0.0.1:0
refuse no-labels-none-model 'nope' $bin device --model nope --cloud none $I $O

echo "test_live: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
