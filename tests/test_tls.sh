#!/usr/bin/env bash
# test_tls.sh -- TLS 1.3 between real device and cloud processes on
# loopback (docs/LIVE.md, "TLS and enrolment"), with a test PKI from
# tools/certs.sh: an enrolled device is served and its rounds are the
# plaintext run's; a device without a certificate, with one from another
# CA or an expired one is refused (one cloud log line naming the peer and
# the reason; the device falls back and says why); a plaintext device is
# refused by a TLS cloud; a device refuses a cloud whose certificate
# another CA signed or that names another host; a handshake that never
# completes is closed by the frame timeout while others are served; a
# device reconnects after the cloud closed its idle TLS connection; a
# device given two TLS clouds fails over to the second when the first is
# killed, without a fallback; the cloud's metrics count the refusals as
# errors of kind tls; plaintext to or on an address that is not loopback
# (any cloud of a list) is refused at startup; bad TLS options exit 2 with
# one line. Runs from tests/ with the
# binary as $1; ports are ephemeral.
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
W="--timeout 20"   # a sanitizer build on a loaded machine is slow

../tools/certs.sh "$tmp/pki" 2> "$tmp/certs.err" || { echo "certs.sh failed: $(cat "$tmp/certs.err")" >&2; exit 1; }
P="$tmp/pki"
CLOUD_TLS="--tls-cert $P/cloud.pem --tls-key $P/cloud.key --tls-ca $P/ca.pem"
DEV_TLS="--tls-cert $P/device-1.pem --tls-key $P/device-1.key --tls-ca $P/ca.pem"

# start_cloud LOG ARGS...: starts a cloud (on $LISTEN_PORT, else a free
# port), sets $cloud_pid and $port
start_cloud() {
    local log="$1"
    shift
    $bin cloud $M --listen "127.0.0.1:${LISTEN_PORT:-0}" --workers 2 "$@" 2> "$log" &
    cloud_pid=$!
    pids+=("$cloud_pid")
    port=""
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log" 2>/dev/null)
        [[ -n "$port" ]] && return 0
        sleep 0.05
    done
    echo "cloud did not start: $(cat "$log")" >&2
    return 1
}

stop_cloud() {
    kill "$cloud_pid" 2>/dev/null
    wait "$cloud_pid" 2>/dev/null
}

counts() {
    sed -n 's/^samples \([0-9]*\): exited \([0-9]*\), offloaded \([0-9]*\), fallback \([0-9]*\)$/\1 \2 \3 \4/p' "$1"
}

# metrics_port LOG: the port of a cloud's --metrics 127.0.0.1:0 from its log
metrics_port() { sed -n 's/.*metrics on http:\/\/127\.0\.0\.1:\([0-9]*\)\/metrics.*/\1/p' "$1" | tail -1; }
# scrape PORT OUT: GET /metrics with a bash /dev/tcp client, the body to OUT
scrape() {
    timeout 5 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n" >&3
        cat <&3' _ "$1" > "$2.raw" 2> /dev/null || return 1
    head -1 "$2.raw" | grep -q '^HTTP/1.1 200 ' || return 1
    sed '1,/^\r$/d' "$2.raw" > "$2"
}
# metric FILE NAME[{labels}]: its value
metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# wait_log LOG PATTERN: up to 10 s for a line matching PATTERN
wait_log() {
    for _ in $(seq 200); do
        grep -qE "$2" "$1" && return 0
        sleep 0.05
    done
    return 1
}

# --- an enrolled device over TLS: served, and its rounds are plaintext's
start_cloud "$tmp/tls.log" $CLOUD_TLS --metrics 127.0.0.1:0 || exit 1
tls_port=$port
tls_pid=$cloud_pid
tls_mport=$(metrics_port "$tmp/tls.log")
grep -q "TLS 1.3 with device certificates" "$tmp/tls.log" && ok || bad "TLS cloud: start line $(cat "$tmp/tls.log")"
$bin device $M --cloud 127.0.0.1:$tls_port $I $W --limit 48 $DEV_TLS --log "$tmp/tls.jsonl" \
    > "$tmp/tls.out" 2> "$tmp/tls.err" || bad "TLS device: exit $? $(cat "$tmp/tls.err")"
read -r s e o f < <(counts "$tmp/tls.out")
[[ ${s:-0} -eq 48 && ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "TLS device: counts ${s:-?} ${e:-?} ${o:-?} ${f:-?} $(cat "$tmp/tls.err")"

start_cloud "$tmp/plain.log" || exit 1
plain_pid=$cloud_pid
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 48 --plaintext --log "$tmp/plain.jsonl" \
    > "$tmp/plain.out" 2>&1 || bad "plaintext device: exit $?"
cut_log() { sed 's/,"bytes".*//' "$1"; }
[[ $(wc -l < "$tmp/tls.jsonl") -eq 48 ]] && diff <(cut_log "$tmp/plain.jsonl") <(cut_log "$tmp/tls.jsonl") > /dev/null \
    && ok || bad "TLS and plaintext rounds differ"
# the payload bytes counted are the wire frame's, the same under TLS
diff <(sed 's/.*"bytes":\([0-9]*\).*/\1/' "$tmp/plain.jsonl") <(sed 's/.*"bytes":\([0-9]*\).*/\1/' "$tmp/tls.jsonl") \
    > /dev/null && ok || bad "TLS and plaintext frame sizes differ"
# by name: the certificate's DNS:localhost
$bin device $M --cloud localhost:$tls_port $I $W --limit 20 $DEV_TLS > "$tmp/name.out" 2>&1
read -r s e o f < <(counts "$tmp/name.out")
[[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "TLS by name: $(cat "$tmp/name.out")"

# --- devices the cloud refuses: one log line with the peer and the reason;
# the device falls back (offloaded 0) and its line says why
# refused NAME DEVICE_PATTERN CLOUD_PATTERN ARGS...
refused() {
    local name="$1" dpat="$2" cpat="$3"
    shift 3
    $bin device $M --cloud 127.0.0.1:$tls_port $I $W --limit 10 "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" \
        || bad "$name: exit $?"
    read -r s e o f < <(counts "$tmp/$name.out")
    [[ ${s:-0} -eq 10 && ${o:-1} -eq 0 && ${f:-0} -gt 0 ]] && ok || bad "$name: counts ${s:-?} ${e:-?} ${o:-?} ${f:-?}"
    grep -qE "splitee device: round [0-9]+: fallback: $dpat" "$tmp/$name.err" && ok \
        || bad "$name: device says $(cat "$tmp/$name.err")"
    wait_log "$tmp/tls.log" "splitee cloud: 127\.0\.0\.1:[0-9]+: closed: $cpat" && ok \
        || bad "$name: cloud log $(cat "$tmp/tls.log")"
}
refused no-cert "127\.0\.0\.1:$tls_port: tls handshake: tlsv13 alert certificate required" \
    "tls handshake: peer did not return a certificate" --tls-ca "$P/ca.pem"
refused other-ca "127\.0\.0\.1:$tls_port: tls handshake: tlsv1 alert unknown ca" \
    "tls handshake: certificate verify failed: unable to get local issuer certificate" \
    --tls-cert "$P/other-device.pem" --tls-key "$P/other-device.key" --tls-ca "$P/ca.pem"
refused expired "127\.0\.0\.1:$tls_port: tls handshake: sslv3 alert certificate expired" \
    "tls handshake: certificate verify failed: certificate has expired" \
    --tls-cert "$P/expired-device.pem" --tls-key "$P/expired-device.key" --tls-ca "$P/ca.pem"
refused plaintext "new connection to 127\.0\.0\.1:$tls_port failed its first request" \
    "tls handshake: wrong version number" --plaintext
# every refusal is a single line (a slow build may see a device retry
# after its backoff: one line per attempt)
sleep 0.5   # the last attempt's line may follow its alert by a moment
refusals=$(grep -c "closed: tls handshake" "$tmp/tls.log")
[[ $refusals -ge 4 ]] && ! grep -qvE '^[0-9T:-]+Z splitee cloud: ' "$tmp/tls.log" && ok \
    || bad "refusal lines: $(cat "$tmp/tls.log")"

# --- a handshake that never completes is closed by the frame timeout, and
# does not hold up a device meanwhile
start_cloud "$tmp/slow.log" $CLOUD_TLS --frame-timeout 1 || exit 1
slow_port=$port
exec 3<> "/dev/tcp/127.0.0.1/$slow_port"
printf '\x16\x03\x01\x00\xff\x01' >&3          # the first bytes of a ClientHello, then nothing
$bin device $M --cloud 127.0.0.1:$slow_port $I $W --limit 20 $DEV_TLS > "$tmp/slowdev.out" 2>&1
read -r s e o f < <(counts "$tmp/slowdev.out")
[[ ${o:-0} -gt 0 && ${f:-1} -eq 0 ]] && ok || bad "device beside a stalled handshake: $(cat "$tmp/slowdev.out")"
wait_log "$tmp/slow.log" "127\.0\.0\.1:[0-9]+: closed: timeout: the TLS handshake begun [0-9.]+ s ago is still incomplete \(frame timeout 1 s\)" \
    && ok || bad "stalled handshake: $(cat "$tmp/slow.log")"
exec 3<&-
stop_cloud

# --- the cloud closes an idle TLS connection (close_notify): the device
# sees it before its next offload and reconnects instead of falling back
start_cloud "$tmp/idle.log" $CLOUD_TLS --idle-timeout 0.3 || exit 1
$bin device $M --cloud 127.0.0.1:$port $I $W --limit 4 --interval 0.7 --policy fixed:1 --alpha 1 $DEV_TLS \
    > "$tmp/idle.out" 2>&1
read -r s e o f < <(counts "$tmp/idle.out")
[[ ${o:-0} -eq 4 && ${f:-1} -eq 0 ]] && ok || bad "TLS after idle timeouts: $(cat "$tmp/idle.out")"
[[ $(grep -c "closed: timeout: no request for" "$tmp/idle.log") -ge 3 ]] && ok || bad "idle: $(cat "$tmp/idle.log")"
stop_cloud

# --- a device refuses a cloud that is not its own
# device_refuses NAME CERT PATTERN HOST
device_refuses() {
    start_cloud "$tmp/$1-cloud.log" --tls-cert "$P/$2.pem" --tls-key "$P/$2.key" --tls-ca "$P/ca.pem" || exit 1
    $bin device $M --cloud "$4:$port" $I $W --limit 10 $DEV_TLS > "$tmp/$1.out" 2> "$tmp/$1.err"
    read -r s e o f < <(counts "$tmp/$1.out")
    [[ ${o:-1} -eq 0 && ${f:-0} -gt 0 ]] && ok || bad "$1: counts ${o:-?} ${f:-?}"
    grep -qE "fallback: $4:$port: tls handshake: certificate verify failed: $3" "$tmp/$1.err" && ok \
        || bad "$1: device says $(cat "$tmp/$1.err")"
    # and the cloud saw the device give up on it
    wait_log "$tmp/$1-cloud.log" "closed: tls handshake: (sslv3|tlsv1) alert (unknown ca|bad certificate)" && ok \
        || bad "$1: cloud log $(cat "$tmp/$1-cloud.log")"
    stop_cloud
}
device_refuses other-cloud other-cloud "unable to get local issuer certificate" 127.0.0.1
device_refuses wrong-ip wrong-name-cloud "IP address mismatch" 127.0.0.1
device_refuses wrong-name wrong-name-cloud "hostname mismatch" localhost

# --- plaintext off loopback is refused at startup (exit 2, one line)
# startup_refused NAME PATTERN ARGS...
startup_refused() {
    local name="$1" pat="$2"
    shift 2
    "$bin" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
    local rc=$?
    [[ $rc -eq 2 && $(wc -l < "$tmp/$name.err") -eq 1 && ! -s "$tmp/$name.out" ]] && grep -qE "$pat" "$tmp/$name.err" \
        && ok || bad "$name: exit $rc, $(cat "$tmp/$name.err")"
}
startup_refused cloud-any "^splitee: --listen 0\.0\.0\.0: plaintext on an address that is not loopback; .*--insecure-plaintext" \
    cloud $M --listen 0.0.0.0:0
startup_refused cloud-any-plaintext "plaintext on an address that is not loopback" cloud $M --listen 0.0.0.0:0 --plaintext
startup_refused device-remote "^splitee: --cloud 192\.0\.2\.1: plaintext to a cloud that is not on loopback; .*--insecure-plaintext" \
    device $M $I --limit 2 --cloud 192.0.2.1:7070
startup_refused device-remote-plaintext "plaintext to a cloud that is not on loopback" \
    device $M $I --limit 2 --cloud 192.0.2.1:7070 --plaintext
# forced: it runs (nothing listens there: every offload falls back)
$bin device $M $I --limit 3 --policy fixed:1 --alpha 1 --cloud 192.0.2.1:7070 --insecure-plaintext --timeout 0.2 \
    > "$tmp/forced.out" 2>&1 && ok || bad "--insecure-plaintext: exit $? $(cat "$tmp/forced.out")"
read -r s e o f < <(counts "$tmp/forced.out")
[[ ${f:-0} -eq 3 ]] && ok || bad "--insecure-plaintext: counts $(cat "$tmp/forced.out")"

# --- bad TLS options: exit 2, one line naming the option
startup_refused tls-both "^splitee: --plaintext with --tls-ca: choose TLS or plaintext$" \
    device $M $I --cloud 127.0.0.1:1 --plaintext --tls-ca "$P/ca.pem"
startup_refused cert-no-key "^splitee: --tls-cert without --tls-key$" \
    device $M $I --cloud 127.0.0.1:1 --tls-cert "$P/device-1.pem" --tls-ca "$P/ca.pem"
startup_refused cert-no-ca "^splitee: --tls-cert without --tls-ca" \
    device $M $I --cloud 127.0.0.1:1 --tls-cert "$P/device-1.pem" --tls-key "$P/device-1.key"
startup_refused cloud-no-cert "^splitee: --tls-ca without --tls-cert and --tls-key" cloud $M --tls-ca "$P/ca.pem"
startup_refused missing-ca "^splitee: --tls-ca $tmp/nope\.pem: No such file or directory$" \
    device $M $I --cloud 127.0.0.1:1 --tls-ca "$tmp/nope.pem"
startup_refused not-pem "^splitee: --tls-ca fixtures/live/labels-48\.idx: not a PEM CA certificate" \
    device $M $I --cloud 127.0.0.1:1 --tls-ca fixtures/live/labels-48.idx
startup_refused key-mismatch "^splitee: --tls-key $P/device-1\.key: does not match --tls-cert" \
    cloud $M --tls-cert "$P/cloud.pem" --tls-key "$P/device-1.key" --tls-ca "$P/ca.pem"
startup_refused cert-is-key "^splitee: --tls-cert $P/cloud\.key: not a PEM certificate" \
    cloud $M --tls-cert "$P/cloud.key" --tls-key "$P/cloud.key" --tls-ca "$P/ca.pem"

# --- failover between two TLS clouds (--cloud A,B): A is killed while the
# device runs, and restarted on its port. Each connection has its own TLS
# session: the device goes on to B with a full handshake there, falls back
# on no sample, and goes back to A once it answers again (closing its
# session with B with a close_notify, which B sees as a clean end); B
# answered exactly what the device counts for it
start_cloud "$tmp/fa.log" $CLOUD_TLS --metrics 127.0.0.1:0 || exit 1
fa_port=$port
fa_pid=$cloud_pid
fa_mport=$(metrics_port "$tmp/fa.log")
start_cloud "$tmp/fb.log" $CLOUD_TLS || exit 1
fb_port=$port
fb_pid=$cloud_pid
$bin device $M --cloud "127.0.0.1:$fa_port,127.0.0.1:$fb_port" $I $W --limit 48 $DEV_TLS \
    --policy fixed:2 --alpha 0.99 --interval 0.1 --backoff-max 0.2 > "$tmp/fo.out" 2> "$tmp/fo.err" &
fo_pid=$!
pids+=("$fo_pid")
answered=0
for _ in $(seq 600); do   # until A has answered 8 requests (at most 60 s)
    scrape "$fa_mport" "$tmp/fa.txt" && answered=$(metric "$tmp/fa.txt" splitee_cloud_requests_total)
    [[ ${answered:-0} -ge 8 ]] && break
    sleep 0.1
done
kill -KILL "$fa_pid"
wait "$fa_pid" 2>/dev/null
sleep 0.5                          # about 5 samples go to B
LISTEN_PORT=$fa_port start_cloud "$tmp/fa2.log" $CLOUD_TLS || exit 1
fa2_pid=$cloud_pid
wait "$fo_pid" && ok || bad "TLS failover: device exit $? $(cat "$tmp/fo.err")"
read -r s e o f < <(counts "$tmp/fo.out")
[[ ${answered:-0} -ge 8 && ${s:-0} -eq 48 && ${f:-1} -eq 0 ]] && ok \
    || bad "TLS failover: A answered ${answered:-0} before the kill; counts ${s:-?} ${e:-?} ${o:-?} ${f:-?} $(grep -m3 fallback "$tmp/fo.err")"
# clouds: 127.0.0.1:A offloaded N (failures F), 127.0.0.1:B offloaded M (failures G)
read -r oa fa ob < <(sed -n 's/^clouds: [^ ]* offloaded \([0-9]*\) (failures \([0-9]*\)), [^ ]* offloaded \([0-9]*\) .*/\1 \2 \3/p' "$tmp/fo.out")
[[ ${oa:-0} -ge 8 && ${fa:-0} -ge 1 && ${ob:-0} -ge 1 && $((${oa:-0} + ${ob:-0})) -eq ${o:--1} ]] && ok \
    || bad "TLS failover: per cloud: $(grep '^clouds:' "$tmp/fo.out")"
kill -TERM "$fb_pid" "$fa2_pid"
wait "$fb_pid" "$fa2_pid" 2>/dev/null
grep -qE "stopped after [0-9]+ connections, ${ob:-x} requests, 0 errors, 0 dropped" "$tmp/fb.log" \
    && ! grep -q "closed:" "$tmp/fb.log" && ok || bad "TLS failover: B's log: $(cat "$tmp/fb.log")"
back=$(sed -n 's/.*stopped after [0-9]* connections, \([0-9]*\) requests, 0 errors, 0 dropped.*/\1/p' "$tmp/fa2.log")
[[ ${back:-0} -ge 1 ]] && ! grep -q "closed:" "$tmp/fa2.log" && ok || bad "TLS failover: the restarted A: $(cat "$tmp/fa2.log")"
echo "test_tls: failover: A answered ${answered:-0} when killed, ${back:-0} once restarted; $(grep '^clouds:' "$tmp/fo.out")"

# --- plaintext is checked for every cloud of a list
startup_refused device-list-remote "^splitee: --cloud 192\.0\.2\.1: plaintext to a cloud that is not on loopback" \
    device $M $I --limit 2 --cloud 127.0.0.1:7070,192.0.2.1:7070

# --- the TLS cloud's metrics: each refusal is an error of kind tls, none of kind protocol
scrape "$tls_mport" "$tmp/tls-metrics.txt" \
    && [[ $(metric "$tmp/tls-metrics.txt" 'splitee_cloud_errors_total{kind="tls"}') -eq $refusals ]] \
    && [[ $(metric "$tmp/tls-metrics.txt" 'splitee_cloud_errors_total{kind="protocol"}') -eq 0 ]] && ok \
    || bad "TLS metrics: $(grep errors_total "$tmp/tls-metrics.txt") (refusals $refusals)"

# --- the TLS cloud stops cleanly and counted the refusals as dropped
kill -TERM "$tls_pid"
wait "$tls_pid" 2>/dev/null
grep -qE "stopped after [0-9]+ connections, [0-9]+ requests, 0 errors, $refusals dropped" "$tmp/tls.log" && ok \
    || bad "TLS cloud stop line: $(tail -1 "$tmp/tls.log")"
kill "$plain_pid" 2>/dev/null
wait "$plain_pid" 2>/dev/null

echo "test_tls: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
