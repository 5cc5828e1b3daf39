#!/usr/bin/env bash
# test_fleet.sh -- several clouds on loopback (docs/LIVE.md, "Several
# clouds", "Metrics", "Draining"): real `splitee cloud`, `splitee device`
# and HAProxy processes.
#   metrics   one cloud with --metrics, eight devices: a scrape during the
#             run is a valid 0.0.4 page; after it, requests, errors and the
#             service-time histogram equal the sums of the devices'
#             summaries; 404/405/431, a silent HTTP client closed after its
#             deadline, none stalls a device; a drain waits for half a
#             frame until --drain-timeout, then exits 0
#   failover  a device given two clouds (--cloud A,B), A killed (SIGKILL)
#             mid-stream: every sample accounted for, none falls back, B
#             takes over; A restarted: the devices go back to it
#   haproxy   three clouds behind HAProxy in TCP mode (deploy/haproxy.cfg.in),
#             64 devices: (a) one cloud SIGKILLed mid-stream: the devices'
#             summaries add up to every sample, HAProxy marks it DOWN, the
#             offload rate in a late window is back to 1; (b) one cloud
#             restarted with SIGTERM: it drains, exits 0, and no device
#             falls back
# Skips (77) without haproxy (tools/setup.sh installs it). Runs from tests/
# with the binary as $1. Every wait is bounded; only PIDs started here are
# signalled.
set -uo pipefail
bin="$(realpath "$1")"
if ! command -v haproxy > /dev/null; then
    echo "test_fleet: SKIP: haproxy is not installed (tools/setup.sh installs it)"
    exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [[ -n "${FLEET_KEEP:-}" ]] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
say() { echo "test_fleet: $*"; }

M="--model ../data/model"
N=200                                   # samples per device
IV=0.02                                 # seconds between a device's samples: a run takes ~4 s
# 200 images and labels from the 48-image fixtures, repeated
mk_idx() {   # SRC HEADER_BYTES ITEM_BYTES OUT: the first $N items, cycling
    local src="$1" hl="$2" isz="$3" out="$4"
    {
        head -c 4 "$src"
        printf "\\x$(printf %02x $((N >> 24 & 255)))\\x$(printf %02x $((N >> 16 & 255)))"
        printf "\\x$(printf %02x $((N >> 8 & 255)))\\x$(printf %02x $((N & 255)))"
        tail -c +9 "$src" | head -c $((hl - 8))
        for _ in 1 2 3 4 5; do tail -c +$((hl + 1)) "$src"; done
    } | head -c $((hl + N * isz)) > "$out"
}
mk_idx fixtures/live/images-48.idx 16 784 "$tmp/images.idx"
mk_idx fixtures/live/labels-48.idx 8 1 "$tmp/labels.idx"
I="--images $tmp/images.idx --labels $tmp/labels.idx --limit $N"
# split after layer 2 unless the exit is very sure: most samples offload
D="--policy fixed:2 --alpha 0.99 --interval $IV --timeout 10 --quiet"

now() { date +%s.%N; }

# free_port: a loopback port nothing listens on now, below the ephemeral
# range: a killed cloud's port cannot be taken meanwhile by another
# program's port-0 listener or outgoing connection (a health check could
# then see it "up" again)
read -r eph_lo _ < /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || eph_lo=32768
[[ ${eph_lo:-0} -gt 12000 ]] || eph_lo=32768
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((10000 + RANDOM % (eph_lo - 10000)))
        (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# start_cloud NAME ADDR: a cloud with metrics on a free port; sets
# cpid[NAME], cport[NAME], mport[NAME]
declare -A cpid cport mport
start_cloud() {
    local name="$1" addr="$2" log="$tmp/cloud-$1.log"
    $bin cloud $M --listen "$addr" --workers 1 --max-per-peer 4096 --metrics 127.0.0.1:0 \
        --drain-timeout "${DT:-10}" 2>> "$log" &
    cpid[$name]=$!
    pids+=("$!")
    local p="" q=""
    for _ in $(seq 200); do
        [[ $(grep -c 'metrics on' "$log") -ge ${3:-1} ]] || { sleep 0.05; continue; }
        p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log" | tail -1)
        q=$(sed -n 's/.*metrics on http:\/\/127\.0\.0\.1:\([0-9]*\)\/metrics.*/\1/p' "$log" | tail -1)
        if [[ -n "$p" && -n "$q" ]]; then
            cport[$name]=$p
            mport[$name]=$q
            return 0
        fi
        sleep 0.05
    done
    echo "cloud $name did not start: $(cat "$log")" >&2
    return 1
}

# scrape PORT OUT: GET /metrics with a bash /dev/tcp client (HTTP/1.0), body to OUT
scrape() {
    local port="$1" out="$2"
    timeout 5 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n" >&3
        cat <&3' _ "$port" > "$out.raw" 2> /dev/null || return 1
    head -1 "$out.raw" | grep -q '^HTTP/1.1 200 ' || return 1
    sed '1,/^\r$/d' "$out.raw" > "$out"
}
# metric FILE NAME[{labels}]: its value
metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
# answered NAME...: requests_total summed over those clouds (the ones that answer a scrape)
answered() {
    local sum=0 n v
    for n in "$@"; do
        scrape "${mport[$n]}" "$tmp/poll.txt" 2> /dev/null || continue
        v=$(metric "$tmp/poll.txt" splitee_cloud_requests_total)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# wait_answered COUNT NAME...: until those clouds have answered COUNT requests
# (the devices are mid-stream however slowly they started); at most 120 s
wait_answered() {
    local want="$1"; shift
    for _ in $(seq 1200); do
        [[ $(answered "$@") -ge $want ]] && return 0
        sleep 0.1
    done
    bad "the clouds $* did not reach $want requests"
}

# wait_pids SECONDS PID...: waits for them; kills (and fails) what is
# left; $last_rc is the last one's exit status
wait_pids() {
    local limit="$1"; shift
    local end=$(( $(date +%s) + limit )) p
    for p in "$@"; do
        while kill -0 "$p" 2> /dev/null && [[ $(date +%s) -lt $end ]]; do sleep 0.1; done
        if kill -0 "$p" 2> /dev/null; then bad "pid $p still running after ${limit}s"; kill "$p"; fi
        wait "$p" 2> /dev/null
        last_rc=$?
    done
}

# jget FILE EXPR: a number from a device summary (python-free: grep the key)
# tot FILE... : "samples exited offloaded fallback" summed over summaries
tot() {
    awk '/"counts":/ { c = 1 } c && /"samples":/ { gsub(/[^0-9]/, "", $2); s += $2 }
         c && /"exited":/ { gsub(/[^0-9]/, "", $2); e += $2 }
         c && /"offloaded":/ { gsub(/[^0-9]/, "", $2); o += $2 }
         c && /"fallback":/ { gsub(/[^0-9]/, "", $2); f += $2; c = 0 }
         END { print s + 0, e + 0, o + 0, f + 0 }' "$@"
}

# start_devices TAG COUNT CLOUDS [extra options]: sets devpids
start_devices() {
    local tag="$1" n="$2" clouds="$3"; shift 3
    devpids=()
    for i in $(seq "$n"); do
        $bin device $M --cloud "$clouds" $I $D --seed "$i" --json "$tmp/$tag-$i.json" \
            --log "$tmp/$tag-$i.jsonl" "$@" > /dev/null 2> "$tmp/$tag-$i.err" &
        devpids+=("$!")
        pids+=("$!")
    done
}

# rounds_now TAG OUT: "device-index rounds-logged-so-far" per running device
# (its --log temporary, written in stdio blocks: a lower bound, ~10 behind)
rounds_now() {
    local i=0 p
    : > "$2"
    for p in "${devpids[@]}"; do
        i=$((i + 1))
        echo "$i $(cat "$tmp/$1-$i.jsonl.tmp$p" 2> /dev/null | wc -l)" >> "$2"
    done
}
# served_rate TAG AT FROM TO: offloaded / (offloaded + fallback) over the rounds
# AT_i+FROM .. AT_i+TO of each device i (AT: a rounds_now file), with the
# counts, and the latest fallback after AT_i in rounds
served_rate() {
    local i at
    while read -r i at; do
        awk -v i="$i" -v a=$((at + $3)) -v b=$((at + $4)) -v at="$at" -F'"round":' '{
            split($2, r, ","); k = r[1] + 0
            if (index($0, "\"outcome\":\"fallback\"") && k >= at && k - at > late) late = k - at
            if (k < a || k > b) next
            if (index($0, "\"outcome\":\"offloaded\"")) o++
            else if (index($0, "\"outcome\":\"fallback\"")) f++
        } END { print o + 0, f + 0, late + 0 }' "$tmp/$1-$i.jsonl"
    done < "$2" | awk '{ o += $1; f += $2; if ($3 > l) l = $3 }
        END { if (o + f == 0) printf "nan 0 0 %d\n", l; else printf "%.4f %d %d %d\n", o / (o + f), o, f, l }'
}

# ---------------------------------------------------------------- deploy/
# the shipped configuration is the template filled with its documented
# ports (only the comment header differs), and HAProxy accepts it
fill() { sed -e "s/@FRONT_PORT@/$1/; s/@STATS_PORT@/$2/; s/@CLOUD1_PORT@/$3/; s/@CLOUD2_PORT@/$4/; s/@CLOUD3_PORT@/$5/"; }
diff <(grep -v '^#' ../deploy/haproxy.cfg) <(grep -v '^#' ../deploy/haproxy.cfg.in | fill 7070 7079 7071 7072 7073) \
    > /dev/null && ok || bad "deploy/haproxy.cfg is not deploy/haproxy.cfg.in filled in"
haproxy -c -q -f ../deploy/haproxy.cfg > /dev/null 2>&1 && ok || bad "haproxy -c rejects deploy/haproxy.cfg"

# ---------------------------------------------------------------- metrics
DT=1 start_cloud m 127.0.0.1:$(free_port) || exit 1
mp=${mport[m]}
start_devices m 8 127.0.0.1:${cport[m]}
wait_answered $((8 * N / 5)) m
scrape "$mp" "$tmp/mid.txt" && ok || bad "metrics: no scrape during the run"
mid=$(metric "$tmp/mid.txt" splitee_cloud_requests_total)
grep -q '^# TYPE splitee_cloud_service_seconds histogram$' "$tmp/mid.txt" && \
    grep -q '^splitee_cloud_service_seconds_bucket{le="+Inf"} ' "$tmp/mid.txt" && ok \
    || bad "metrics: no histogram in $(head -c 300 "$tmp/mid.txt")"
[[ $(metric "$tmp/mid.txt" splitee_cloud_open_connections) -ge 1 ]] && ok || bad "metrics: open connections 0 mid-run"
# hostile and wrong HTTP clients while the devices run
st_of() { timeout 5 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1; printf "%b" "$2" >&3; head -1 <&3' _ "$mp" "$1" | tr -d '\r'; }
[[ "$(st_of 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n')" == "HTTP/1.1 404 Not Found" ]] && ok || bad "metrics: /nope not 404"
[[ "$(st_of 'POST /metrics HTTP/1.1\r\n\r\n')" == "HTTP/1.1 405 Method Not Allowed" ]] && ok || bad "metrics: POST not 405"
[[ "$(st_of "GET /metrics HTTP/1.1\r\nX: $(head -c 3000 /dev/zero | tr '\0' a)\r\n\r\n")" == \
   "HTTP/1.1 431 Request Header Fields Too Large" ]] && ok || bad "metrics: a 3 kB head not 431"
t0=$(now)
timeout 10 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1"; cat <&3 > /dev/null' _ "$mp"   # sends nothing
t1=$(now)
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.5 && b - a < 5) }' && ok \
    || bad "metrics: a silent client was held $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s (deadline 2 s)"
wait_pids 120 "${devpids[@]}"
read -r s e o f < <(tot "$tmp"/m-*.json)
[[ $s -eq $((8 * N)) && $((e + o + f)) -eq $s && $f -eq 0 && $o -gt 0 ]] && ok \
    || bad "metrics: device counts $s $e $o $f"
scrape "$mp" "$tmp/end.txt" || bad "metrics: no scrape after the run"
[[ $(metric "$tmp/end.txt" splitee_cloud_requests_total) -eq $o && ${mid:-0} -le $o ]] && ok \
    || bad "metrics: requests_total $(metric "$tmp/end.txt" splitee_cloud_requests_total) (mid $mid), devices offloaded $o"
[[ $(metric "$tmp/end.txt" splitee_cloud_service_seconds_count) -eq $o ]] && ok || bad "metrics: histogram count"
# every cumulative bucket equals the devices' summed cumulative bucket
dev_buckets=$(awk '/"service_seconds":/ { h = 1 } h && /"buckets":/ { h = 0; sub(/.*\[/, ""); sub(/\].*/, "");
    n = split($0, v, ","); for (k = 1; k <= n; k++) sum[k] += v[k] } END { for (k = 1; k <= 15; k++) printf "%d ", sum[k] }' "$tmp"/m-*.json)
cloud_buckets=$(grep '^splitee_cloud_service_seconds_bucket' "$tmp/end.txt" | awk '{ printf "%d ", $2 }')
[[ -n "$cloud_buckets" && "$dev_buckets" == "$cloud_buckets" ]] && ok \
    || bad "metrics: buckets: cloud [$cloud_buckets] devices [$dev_buckets]"
for k in payload measure protocol timeout max_clients max_per_peer tls; do
    [[ $(metric "$tmp/end.txt" "splitee_cloud_errors_total{kind=\"$k\"}") -eq 0 ]] || bad "metrics: errors $k"
done
ok
for _ in $(seq 50); do   # the devices are gone: the gauges come back to 0
    scrape "$mp" "$tmp/end2.txt" && [[ $(metric "$tmp/end2.txt" splitee_cloud_open_connections) -eq 0 ]] && break
    sleep 0.1
done
[[ $(metric "$tmp/end2.txt" splitee_cloud_open_connections) -eq 0 && \
   $(metric "$tmp/end2.txt" splitee_cloud_inflight_requests) -eq 0 ]] && ok || bad "metrics: gauges not back to 0"
say "metrics: $o requests answered by the cloud = the 8 devices' offloads; buckets $cloud_buckets"
# a drain waits for a request begun and not finished, up to --drain-timeout
# (1 s here), then closes it and exits 0
exec 5<> "/dev/tcp/127.0.0.1/${cport[m]}"
printf 'SPLW\002\000\001' >&5          # the first 7 bytes of a frame header
sleep 0.2
t0=$(now)
kill -TERM "${cpid[m]}"; wait_pids 20 "${cpid[m]}"
t1=$(now)
exec 5>&-
[[ $last_rc -eq 0 ]] && grep -q 'drained: 0 connections closed once answered, 1 closed at the drain timeout' \
    "$tmp/cloud-m.log" && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.9 && b - a < 5) }' && ok \
    || bad "drain timeout: exit $last_rc after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s: $(grep drain "$tmp/cloud-m.log")"

# ---------------------------------------------------------------- device failover
start_cloud a 127.0.0.1:$(free_port) || exit 1
start_cloud b 127.0.0.1:$(free_port) || exit 1
start_devices f 8 "127.0.0.1:${cport[a]},127.0.0.1:${cport[b]}" --backoff-max 0.5
wait_answered $((8 * N / 5)) a
kill -KILL "${cpid[a]}"; wait "${cpid[a]}" 2> /dev/null
sleep 1
start_cloud a "127.0.0.1:${cport[a]}" 2 || exit 1    # the same port, a fresh process
wait_pids 120 "${devpids[@]}"
read -r s e o f < <(tot "$tmp"/f-*.json)
[[ $s -eq $((8 * N)) && $((e + o + f)) -eq $s ]] && ok || bad "failover: counts $s $e $o $f"
[[ $f -eq 0 ]] && ok || bad "failover: $f fallbacks ($(grep -ho 'fallback: .*' "$tmp"/f-*.err | sort | uniq -c | head -3))"
# per cloud: A failed and B answered on every device; the restarted A answered again
fa=0; ob=0
for j in "$tmp"/f-*.json; do
    a_fail=$(awk '/"clouds":/ { c = 1 } c && /"failures":/ { gsub(/[^0-9]/, "", $2); print $2; exit }' "$j")
    b_off=$(awk '/"clouds":/ { c = 1 } c && /"offloaded":/ { n++; if (n == 2) { gsub(/[^0-9]/, "", $2); print $2; exit } }' "$j")
    [[ ${a_fail:-0} -ge 1 ]] && fa=$((fa + 1))
    [[ ${b_off:-0} -ge 1 ]] && ob=$((ob + 1))
done
[[ $fa -eq 8 && $ob -eq 8 ]] && ok || bad "failover: A failed on $fa of 8 devices, B answered $ob of 8"
scrape "${mport[a]}" "$tmp/a.txt" || bad "failover: no scrape of the restarted first cloud"
back=$(metric "$tmp/a.txt" splitee_cloud_requests_total)
[[ ${back:-0} -gt 0 ]] && ok || bad "failover: the restarted first cloud got no request back"
say "failover: $o offloads, 0 fallbacks; the restarted first cloud answered ${back:-0} of them"
kill -TERM "${cpid[a]}" "${cpid[b]}"; wait_pids 20 "${cpid[a]}" "${cpid[b]}"

# ---------------------------------------------------------------- HAProxy
start_cloud 1 127.0.0.1:$(free_port) || exit 1
start_cloud 2 127.0.0.1:$(free_port) || exit 1
start_cloud 3 127.0.0.1:$(free_port) || exit 1
front=$(free_port) && stats=$(free_port) || { bad "no free port"; exit 1; }
sed -e "s/@FRONT_PORT@/$front/; s/@STATS_PORT@/$stats/; s/@CLOUD1_PORT@/${cport[1]}/" \
    -e "s/@CLOUD2_PORT@/${cport[2]}/; s/@CLOUD3_PORT@/${cport[3]}/" \
    -e "s/local0 notice/local0 info/; s/^    option dontlognull$/&\n    option tcplog/" \
    ../deploy/haproxy.cfg.in > "$tmp/haproxy.cfg"   # a line per connection, for a failure
haproxy -db -f "$tmp/haproxy.cfg" > "$tmp/haproxy.log" 2>&1 &
hpid=$!; pids+=("$hpid")
# show_stat: "name status" per cloud, from the runtime API
show_stat() {
    timeout 3 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1; printf "show stat\n" >&3; cat <&3' _ "$stats" \
        2> /dev/null | awk -F, '$1 == "clouds" && $2 ~ /^c[0-9]$/ { print $2, $18 }'
}
up=0
for _ in $(seq 100); do
    [[ $(show_stat | grep -c ' UP$') -eq 3 ]] && { up=1; break; }
    sleep 0.1
done
[[ $up -eq 1 ]] && ok || { bad "haproxy: clouds not UP: $(show_stat) $(cat "$tmp/haproxy.log")"; exit 1; }

# (a) SIGKILL one cloud mid-stream
ND=64
base=$(answered 1 2 3)
start_devices a $ND 127.0.0.1:$front
# about an eighth of the way on average (most samples offload; the devices
# started streaming at different times)
wait_answered $((base + ND * N / 8)) 1 2 3
at_kill=$(( $(answered 1 2 3) - base ))
rounds_now a "$tmp/at-kill.txt"
kill -KILL "${cpid[2]}"; wait "${cpid[2]}" 2> /dev/null
tkill=$(now)
down=0
for _ in $(seq 50); do
    show_stat | grep -q '^c2 DOWN' && { down=1; break; }
    sleep 0.1
done
tdown=$(now)
[[ $down -eq 1 ]] && ok || bad "haproxy: c2 not marked DOWN: $(show_stat)"
grep -q 'clouds/c2 is DOWN' "$tmp/haproxy.log" && ok || bad "haproxy: no DOWN line in its log"
wait_pids 180 "${devpids[@]}"
read -r s e o f < <(tot "$tmp"/a-*.json)
[[ $s -eq $((ND * N)) && $((e + o + f)) -eq $s ]] && ok || bad "haproxy kill: counts $s $e $o $f"
# served / (served + fallback) by window of each device's rounds: the 20
# before the kill, the 50 from it (1 s), and from 50 after it (plus the
# ~10 rounds the logged count lags) to the end
read -r early eo ef _ < <(served_rate a "$tmp/at-kill.txt" -20 -1)
read -r around ao af last_fb < <(served_rate a "$tmp/at-kill.txt" 0 59)
read -r late lo lf _ < <(served_rate a "$tmp/at-kill.txt" 60 $N)
awk -v r="$late" 'BEGIN { exit !(r >= 0.99) }' && [[ $lo -gt $((ND * 10)) ]] && ok \
    || bad "haproxy kill: late-window offload rate $late ($lo served, $lf fallback)"
say "haproxy kill: $ND devices, $s samples ($e exited, $o offloaded, $f fallback); killed after $at_kill" \
    "requests (rounds $(sort -k2n "$tmp/at-kill.txt" | head -1 | cut -d' ' -f2)-$(sort -k2n "$tmp/at-kill.txt" | tail -1 | cut -d' ' -f2));" \
    "served/(served+fallback): 20 rounds before the kill $early ($eo/$ef), the 60 from it $around ($ao/$af)," \
    "from 60 after it $late ($lo/$lf); latest fallback $last_fb rounds (x $IV s) after the kill;" \
    "c2 DOWN in HAProxy $(awk -v a="$tkill" -v b="$tdown" 'BEGIN { printf "%.2f", b - a }') s after the kill"
[[ $f -gt 0 ]] && say "haproxy kill: the fallbacks: $(grep -ho 'fallback: .*' "$tmp"/a-*.err | sed 's/:[0-9]*:/:PORT:/g' | sort | uniq -c | tr '\n' ';')"

# (b) restart one cloud with SIGTERM (drain) while 64 devices run
start_cloud 2 "127.0.0.1:${cport[2]}" 2 || exit 1
for _ in $(seq 100); do show_stat | grep -q '^c2 UP' && break; sleep 0.1; done
show_stat | grep -q '^c2 UP' && ok || bad "haproxy: restarted c2 not UP"
base=$(answered 1 2 3)
start_devices b $ND 127.0.0.1:$front
wait_answered $((base + ND * N / 5)) 1 2 3
kill -TERM "${cpid[1]}"
wait_pids 20 "${cpid[1]}"
[[ $last_rc -eq 0 ]] && ok || bad "drain: the SIGTERMed cloud exited $last_rc"
grep -q 'drained: [0-9]* connections closed once answered, 0 closed at the drain timeout' "$tmp/cloud-1.log" && ok \
    || bad "drain: $(grep -E 'drain' "$tmp/cloud-1.log" | tail -2)"
start_cloud 1 "127.0.0.1:${cport[1]}" 2 || exit 1
wait_pids 180 "${devpids[@]}"
read -r s e o f < <(tot "$tmp"/b-*.json)
[[ $s -eq $((ND * N)) && $((e + o + f)) -eq $s ]] && ok || bad "haproxy drain: counts $s $e $o $f"
[[ $f -eq 0 ]] && ok || bad "haproxy drain: $f fallbacks: $(grep -ho 'fallback: .*' "$tmp"/b-*.err | sed 's/round [0-9]*//' | sort | uniq -c | head -3)"
say "haproxy drain: $ND devices, $s samples ($o offloaded, $f fallback) across a SIGTERM restart;" \
    "$(grep -o 'drained: .*' "$tmp/cloud-1.log" | tail -1)"
kill -TERM "$hpid" "${cpid[1]}" "${cpid[2]}" "${cpid[3]}"
wait_pids 20 "$hpid" "${cpid[1]}" "${cpid[2]}" "${cpid[3]}"

echo "fleet: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
