#!/usr/bin/env bash
# Proxy benchmark: envcache against docker-registry in proxy mode (the reference pull-through
# cache) and nginx serving the same bytes as static files (the machine's limit), all on this
# machine, in one run, against one seeded upstream (Debian's docker-registry). See
# bench/README.md.
#
#   bench/proxy/run.sh            full run (about 20 minutes on 2 cores)
#   bench/proxy/run.sh --quick    short smoke run (3 s per wrk run, 1 round each, 8 RSS clients)
#   bench/proxy/run.sh --tls      the warm TLS rows (envcache and nginx over TLS) and the
#                                 pass-through HEAD count only
#   bench/proxy/run.sh --p99      the p99 row only (warm manifest hits alone and during three
#                                 cold downloads; nginx alone and beside a writer of fresh
#                                 pages as the reference)
#   bench/proxy/run.sh --cold     the cold rows only: cold pulls of the image set and memory
#                                 while clients pull the 1 GiB blob
#
# Environment: ENVCACHE (binary, default build/release/proxy/envcache), BENCH_WORK (scratch
# directory, default build/bench-proxy; ~9 GiB), DURATION (seconds per wrk run, 10),
# ROUNDS (rounds of the wrk tests, medians reported; 3), P99_ROUNDS (rounds of the p99 test, 5),
# P99_WINDOW (seconds of each p99 window, 4), P99_REST (seconds of rest before each, 10),
# P99_FRESH_RATE (MiB/s of the p99 reference's writer of fresh pages, 384),
# COLD_ROUNDS (3),
# RSS_CLIENTS (64), RSS_MAX_TIME (seconds an RSS client may take, 600), BASELINE (another
# envcache binary: its plain-HTTP manifest and blob rows beside this one's, in the TLS section;
# with --cold, its cold pulls beside this one's in each round), PASS_PULLS
# (pulls per credential and repository in the pass-through count, 5).
# Needs docker-registry, nginx-light, wrk, skopeo, curl, openssl, python3 and htpasswd
# (apache2-utils). Every server binds 127.0.0.1 only; every process this script starts is
# stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ENVCACHE=${ENVCACHE:-$ROOT/build/release/proxy/envcache}
WORK=${BENCH_WORK:-$ROOT/build/bench-proxy}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
COLD_ROUNDS=${COLD_ROUNDS:-3}
RSS_CLIENTS=${RSS_CLIENTS:-64}
RSS_MAX_TIME=${RSS_MAX_TIME:-600}
MODE=full
if [[ ${1:-} == --quick ]]; then
    DURATION=3 ROUNDS=1 COLD_ROUNDS=1 RSS_CLIENTS=8 P99_ROUNDS=1 P99_REST=1
elif [[ ${1:-} == --tls ]]; then
    MODE=tls
elif [[ ${1:-} == --p99 ]]; then
    MODE=p99
elif [[ ${1:-} == --cold ]]; then
    MODE=cold
elif [[ -n ${1:-} ]]; then
    sed -n '2,29p' "$0" >&2
    exit 2
fi
# The sections that --tls, --p99 and --cold skip.
full_run() { [[ $MODE == full ]]; }
cold_rows() { [[ $MODE == full || $MODE == cold ]]; }
# One wrk thread: on 2 cores the load generator takes one of them, as a new user's would.
CONNECTIONS=32
WRK_THREADS=1
LIB=(python3 "$HERE/benchlib.py")
RESULTS=$WORK/results
MANIFEST_ACCEPT="application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

for tool in docker-registry nginx wrk skopeo curl openssl python3 htpasswd; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null || {
        echo "run.sh: $tool is missing (make deps-bench deps-test)" >&2
        exit 1
    }
done
NGINX=$(PATH=$PATH:/usr/sbin command -v nginx)
[[ -x $ENVCACHE ]] || {
    echo "run.sh: no envcache binary at $ENVCACHE (make bench, or set ENVCACHE)" >&2
    exit 1
}

log() { printf '%s [bench] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- process bookkeeping: every server is recorded and stopped on exit ----------------------
declare -A PIDS=()
stop() {
    local name=$1 pid=${PIDS[$1]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PIDS[$name]"
}
CLIENT_PIDS=()
cleanup() {
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for name in "${!PIDS[@]}"; do stop "$name"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_registry NAME PORT ROOTDIR [REMOTE_URL [HTPASSWD]]: Debian's docker-registry, optionally
# as a proxy; with HTPASSWD, with basic auth and its access log on (DIR/log).
start_registry() {
    local name=$1 port=$2 dir=$3 remote=${4:-} htpasswd=${5:-}
    mkdir -p "$dir"
    {
        echo "version: 0.1"
        if [[ -n $htpasswd ]]; then
            echo "log: {level: error, accesslog: {disabled: false}}"
            echo "auth: {htpasswd: {realm: bench, path: $htpasswd}}"
        else
            echo "log: {level: error, accesslog: {disabled: true}}"
        fi
        echo "storage: {filesystem: {rootdirectory: $dir/data}, cache: {blobdescriptor: inmemory}}"
        echo "http: {addr: 127.0.0.1:$port}"
        [[ -z $remote ]] || echo "proxy: {remoteurl: $remote}"
    } >"$dir/config.yml"
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    PIDS[$name]=$!
    "${LIB[@]}" wait "http://127.0.0.1:$port/v2/" 30 ${htpasswd:+any} || { tail "$dir/log" >&2; exit 1; }
}

# start_envcache NAME PORT DIR UPSTREAM_PORT [tls [UPSTREAM_KEYS]]: envcache with a fresh store in
# DIR/store; with `tls`, HTTPS with the run's certificate; UPSTREAM_KEYS: more keys of the
# upstream, one "key: value" per line.
start_envcache() {
    local name=$1 port=$2 dir=$3 up=$4 scheme=http keys=${6:-}
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/config.yml" <<EOF
listen: 127.0.0.1:$port
storage:
  path: $dir/store
  max_size: 8GiB
upstreams:
  - name: up
    url: "http://127.0.0.1:$up"
    default: true
    tag_ttl: 5m
$(sed 's/^/    /' <<<"$keys")
prefetch: false
EOF
    if [[ ${5:-} == tls ]]; then
        scheme=https
        echo "server: {tls: {cert_file: $TLS_DIR/cert.pem, key_file: $TLS_DIR/key.pem}}" >>"$dir/config.yml"
    fi
    "$ENVCACHE" serve --config "$dir/config.yml" >"$dir/log" 2>&1 &
    PIDS[$name]=$!
    for _ in $(seq 300); do
        grep -q "listening on" "$dir/log" && break
        kill -0 "${PIDS[$name]}" 2>/dev/null || { tail "$dir/log" >&2; exit 1; }
        sleep 0.1
    done
    "${LIB[@]}" wait "$scheme://127.0.0.1:$port/v2/" 30 ${keys:+any} || { tail "$dir/log" >&2; exit 1; }
}

start_nginx() { # start_nginx NAME PORT WORKERS [tls]
    local name=$1 port=$2 workers=$3 dir=$WORK/$1 scheme=http ssl=""
    if [[ ${4:-} == tls ]]; then
        scheme=https
        ssl="ssl; ssl_certificate $TLS_DIR/cert.pem; ssl_certificate_key $TLS_DIR/key.pem"
    fi
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo "user root;")
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    open_file_cache max=1000 inactive=60s;
    client_body_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$port $ssl;
        root $WORK/static;
        location = /v2/ {
            default_type application/json;
            add_header Docker-Distribution-API-Version registry/2.0;
            return 200 '{}';
        }
        location ~ ^/v2/.+/manifests/ {
            types {}
            default_type application/vnd.oci.image.manifest.v1+json;
        }
        location ~ ^/v2/.+/blobs/ {
            types {}
            default_type application/octet-stream;
        }
    }
}
EOF
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/log" 2>&1 &
    PIDS[$name]=$!
    "${LIB[@]}" wait "$scheme://127.0.0.1:$port/v2/" 30 || { cat "$dir/error.log" >&2; exit 1; }
}

skopeo_pull() { # skopeo_pull PORT REPO DEST: timed by the caller (http or https: not verified)
    rm -rf "$3"
    timeout 600 skopeo --insecure-policy copy -q --src-tls-verify=false \
        "docker://127.0.0.1:$1/$2:v1" "dir:$3" >/dev/null
}

# The run's TLS certificate (self-signed, P-256), for envcache and nginx alike.
TLS_DIR=$WORK/tls
make_certificate() {
    mkdir -p "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 2>/dev/null
}

mkdir -p "$WORK"
rm -rf "$RESULTS" "$WORK/static" "$WORK/pull"
mkdir -p "$RESULTS" "$WORK/pull"

# --- 1. images: an OCI layout written by Python, cached while make_images.py is unchanged ---
stamp=$(sha256sum "$HERE/make_images.py" | cut -d' ' -f1)
if [[ ! -f $WORK/layout.stamp || $(cat "$WORK/layout.stamp") != "$stamp" ]]; then
    log "writing the images (OCI layout, ~1.3 GiB)"
    rm -rf "$WORK/layout" "$WORK/layout.stamp"
    python3 "$HERE/make_images.py" "$WORK/layout" >"$WORK/images.txt"
    echo "$stamp" >"$WORK/layout.stamp"
fi

# --- 2. the seeded upstream: a fresh docker-registry, every image pushed with skopeo --------
# (--tls: only the images its rows read)
IMAGES=$WORK/images.txt
if [[ $MODE == tls ]]; then
    IMAGES=$WORK/images-tls.txt
    awk '$1 == "bench/small" || $1 == "bench/large"' "$WORK/images.txt" >"$IMAGES"
fi
UP=$("${LIB[@]}" free-port)
rm -rf "$WORK/upstream"
start_registry upstream "$UP" "$WORK/upstream"
log "upstream docker-registry on 127.0.0.1:$UP; pushing $(wc -l <"$IMAGES") images"
while read -r repo tag _; do
    timeout 600 skopeo --insecure-policy copy -q --dest-tls-verify=false \
        "oci:$WORK/layout:${repo//\//_}_$tag" "docker://127.0.0.1:$UP/$repo:$tag"
done <"$IMAGES"
"${LIB[@]}" static-tree "http://127.0.0.1:$UP" "$WORK/layout" "$IMAGES" "$WORK/static"
URLS=$WORK/static/urls
# The cold-pull set is bench/cold0-cold4; bench/cold512 (three 512 MiB layers) is pulled cold
# on its own, and downloaded in the p99 test.
COLD_REPOS=$(awk '$1 ~ /^bench\/cold/ && $1 != "bench/cold512" {print $1}' "$WORK/images.txt")
WARM_REPOS="bench/small bench/large $COLD_REPOS"

declare -A PORT=()
run_wrk() { # run_wrk TEST CONTENDER ROUND LIST [wrk args...]; https for a TLS contender
    local test=$1 c=$2 round=$3 list=$4 scheme=http
    shift 4
    [[ $c == *-tls* ]] && scheme=https
    local out=$RESULTS/wrk-$test-$c-r$round.txt
    echo "# $(uptime)" >"$out"
    timeout $((DURATION + 60)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s \
        "$@" -s "$HERE/rotate.lua" "$scheme://127.0.0.1:${PORT[$c]}" -- \
        $(awk '{print $1}' "$list") >>"$out" 2>&1 || true
    log "$test $c round $round: $(grep -E 'Requests/sec|Transfer/sec' "$out" | tr -s ' ' | tr '\n' ' ')"
}

if cold_rows; then # section 3 (not indented, to keep it readable)
# --- 3. cold pulls: the image set directly, through envcache and docker-registry, fresh -----
EC=$("${LIB[@]}" free-port)
RP=$("${LIB[@]}" free-port)
time_set() { # time_set PORT REPO...: seconds to pull the images, one after the other
    local start end repo port=$1
    shift
    start=$(date +%s.%N)
    for repo in "$@"; do skopeo_pull "$port" "$repo" "$WORK/pull/${repo//\//_}"; done
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}
time_both() { # time_both WHO PORT: the cold set, then bench/cold512, into cold.txt and cold-large.txt
    echo "$1 $(time_set "$2" $COLD_REPOS)" >>"$RESULTS/cold.txt"
    echo "$1 $(time_set "$2" bench/cold512)" >>"$RESULTS/cold-large.txt"
}
log "cold pulls: warming the upstream's page cache with one direct pull"
time_set "$UP" $COLD_REPOS bench/cold512 >/dev/null
for round in $(seq "$COLD_ROUNDS"); do
    log "cold pulls: round $round/$COLD_ROUNDS"
    time_both direct "$UP"
    start_envcache envcache "$EC" "$WORK/envcache-cold" "$UP"
    time_both envcache "$EC"
    stop envcache
    if [[ -n ${BASELINE:-} ]]; then
        ENVCACHE=$BASELINE start_envcache baseline "$EC" "$WORK/baseline-cold" "$UP"
        time_both baseline "$EC"
        stop baseline
    fi
    rm -rf "$WORK/registry-cold"
    start_registry registry "$RP" "$WORK/registry-cold" "http://127.0.0.1:$UP"
    time_both registry "$RP"
    stop registry
done
paste "$RESULTS/cold.txt" "$RESULTS/cold-large.txt" >&2
fi # cold_rows

if full_run; then # section 4
# --- 4. warm throughput with wrk: -c32 -t2, same paths against each contender ---------------
rm -rf "$WORK/envcache-warm" "$WORK/registry-warm"
start_envcache envcache "$EC" "$WORK/envcache-warm" "$UP"
start_registry registry "$RP" "$WORK/registry-warm" "http://127.0.0.1:$UP"
# nginx with one worker is faster on blobs here, with two on manifests: each row is compared
# with the better of the two.
NG1=$("${LIB[@]}" free-port)
start_nginx nginx1 "$NG1" 1
NG2=$("${LIB[@]}" free-port)
start_nginx nginx2 "$NG2" 2
PORT+=([nginx1]=$NG1 [nginx2]=$NG2 [envcache]=$EC [registry]=$RP)
for c in envcache registry; do
    log "warming $c: pulling $(echo $WARM_REPOS | wc -w) images once"
    for repo in $WARM_REPOS; do skopeo_pull "${PORT[$c]}" "$repo" "$WORK/pull/warm"; done
done
for c in nginx1 nginx2 envcache registry; do
    "${LIB[@]}" verify "http://127.0.0.1:${PORT[$c]}" "$URLS/manifests.txt" "$URLS/small.txt" \
        "$URLS/large.txt" >&2
done

warm_log_lines=$(wc -l <"$WORK/envcache-warm/log")
for round in $(seq "$ROUNDS"); do
    for c in nginx1 nginx2 envcache registry; do
        run_wrk manifests "$c" "$round" "$URLS/manifests.txt" -H "Accept: $MANIFEST_ACCEPT"
    done
    for c in nginx1 nginx2 envcache registry; do run_wrk small "$c" "$round" "$URLS/small.txt"; done
    for c in nginx1 nginx2 envcache registry; do run_wrk large "$c" "$round" "$URLS/large.txt"; done
done
# What envcache answered during the wrk runs (all should be hits: the cache was warm).
tail -n +$((warm_log_lines + 1)) "$WORK/envcache-warm/log" | awk '$1 == "GET" {n[$NF]++}
    END {for (k in n) printf "%s=%d ", k, n[k]; print ""}' >"$RESULTS/envcache-outcomes.txt"
log "envcache outcomes during the wrk runs: $(cat "$RESULTS/envcache-outcomes.txt")"
stop registry
stop nginx1
stop nginx2
stop envcache

fi # full_run

if full_run || [[ $MODE == p99 ]]; then
# --- 4b. p99 of warm manifest hits alone, then while three cold 512 MiB blobs download -------
# Each round starts a fresh store, warms the manifests, times them alone, then starts the three
# downloads and times them again for P99_WINDOW seconds. Before each of the two windows the
# machine rests P99_REST seconds, so both start from the same state: on this bench's virtual
# machine a window that follows sustained load directly has a p99 up to three times that of one
# after a rest (bench/README, "Why the windows rest"). Before the alone window the round records
# the 1-minute load and the page cache's Dirty plus Writeback (kB), so that an alone round
# disturbed by something else on the machine shows.
#
# The reference, in the same round: nginx with two workers serving the same manifests, timed
# alone and while one process writes a new file at up to P99_FRESH_RATE (384) MiB/s through the
# window (the three downloads fill pages for the store and the spool at 200 to 450 MiB/s; where
# fresh pages are dear the writer falls short of the cap).
# On this virtual machine the first touch of a page the guest gave back to the host costs a
# host fault that stalls the virtual CPU, whatever else waits to run on it, and that cost moves
# with the host's load; the writer's system CPU per GiB shows that cost in each round
# (bench/README, "Fresh pages").
p99_of() { awk '/^RESULT/ {for (i = 2; i <= NF; i++) if ($i ~ /^p99_us=/) print substr($i, 8)}' "$1"; }
window=${P99_WINDOW:-4}
rest=${P99_REST:-10}
# p99_window URL OUT: warm manifest hits for the window's length.
p99_window() {
    timeout 60 wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${window}s" --timeout 30s \
        -H "Accept: $MANIFEST_ACCEPT" -s "$HERE/rotate.lua" "$1" -- \
        $(awk '{print $1}' "$URLS/manifests.txt") >"$2" 2>&1 || true
}
EC=${EC:-$("${LIB[@]}" free-port)}
NGP=$("${LIB[@]}" free-port)
start_nginx nginx-p99 "$NGP" 2
for round in $(seq "${P99_ROUNDS:-5}"); do
    ng_quiet=$RESULTS/p99-nginx-quiet-r$round.txt ng_busy=$RESULTS/p99-nginx-busy-r$round.txt
    sleep "$rest"
    p99_window "http://127.0.0.1:$NGP" "$ng_quiet"
    sleep "$rest"
    "${LIB[@]}" fresh-writer "$WORK/fresh-pages" "${P99_FRESH_RATE:-384}" $((window + 1)) \
        >"$RESULTS/p99-fresh-r$round.txt" &
    writer=$!
    CLIENT_PIDS=("$writer") # stopped on exit like the download clients
    p99_window "http://127.0.0.1:$NGP" "$ng_busy"
    wait "$writer" || { log "p99 round $round: the writer of fresh pages failed"; exit 1; }

    start_envcache envcache "$EC" "$WORK/envcache-p99" "$UP"
    "${LIB[@]}" verify "http://127.0.0.1:$EC" "$URLS/manifests.txt" >/dev/null
    quiet=$RESULTS/p99-quiet-r$round.txt busy=$RESULTS/p99-busy-r$round.txt
    sleep "$rest"
    quiet_load=$(cut -d' ' -f1 /proc/loadavg)
    quiet_dirty=$(awk '/^(Dirty|Writeback):/ {kb += $2} END {print kb}' /proc/meminfo)
    p99_window "http://127.0.0.1:$EC" "$quiet"
    CLIENT_PIDS=()
    # The upstream stands in for a remote registry: its reads of the three blobs should come
    # from its page cache, not from this machine's disk (this virtual machine drops file pages
    # left alone for a minute), as the cold pulls warm it with a first direct pull.
    while read -r path; do
        hex=${path##*sha256:}
        cat "$WORK/upstream/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" >/dev/null
    done <"$URLS/cold512.txt"
    sleep "$rest"
    start=$(date +%s.%N)
    while read -r path; do
        curl -s --max-time 600 -o /dev/null "http://127.0.0.1:$EC$path" &
        CLIENT_PIDS+=($!)
    done <"$URLS/cold512.txt"
    p99_window "http://127.0.0.1:$EC" "$busy"
    # The downloads must outlast the timed window, or the busy figure is partly idle.
    running=0
    for pid in "${CLIENT_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && running=$((running + 1)); done
    ((running == ${#CLIENT_PIDS[@]})) \
        || log "p99 round $round: $((${#CLIENT_PIDS[@]} - running)) downloads ended before the timed window did"
    for pid in "${CLIENT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CLIENT_PIDS=()
    end=$(date +%s.%N)
    echo "quiet_p99_us=$(p99_of "$quiet") busy_p99_us=$(p99_of "$busy") download_s=$(python3 -c "print(f'{$end - $start:.1f}')") window_s=$window load=$quiet_load dirty_kb=$quiet_dirty nginx_quiet_p99_us=$(p99_of "$ng_quiet") nginx_busy_p99_us=$(p99_of "$ng_busy") $(cat "$RESULTS/p99-fresh-r$round.txt")" \
        | tee -a "$RESULTS/p99.txt" >&2
    stop envcache
done
stop nginx-p99

fi # full_run or p99

if cold_rows; then
# --- 5. envcache RSS while RSS_CLIENTS clients pull the 1 GiB blob (cold, then warm) --------
HUGE=$(head -1 "$URLS/huge.txt")
HUGE_DIGEST=${HUGE##*/}
start_envcache envcache "$EC" "$WORK/envcache-rss" "$UP"
EPID=${PIDS[envcache]}
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$EPID/status"; }
for phase in cold warm; do
    log "RSS: $RSS_CLIENTS clients on the 1 GiB blob ($phase)"
    echo 5 >"/proc/$EPID/clear_refs" 2>/dev/null || true # resets VmHWM to the current RSS
    CLIENT_PIDS=()
    start=$(date +%s.%N)
    # Client 0 hashes what it gets; the others count bytes.
    (curl -s --max-time "$RSS_MAX_TIME" "http://127.0.0.1:$EC$HUGE" | sha256sum >"$WORK/pull/rss-0.sha") &
    CLIENT_PIDS+=($!)
    for i in $(seq 1 $((RSS_CLIENTS - 1))); do
        curl -s --max-time "$RSS_MAX_TIME" -o /dev/null -w '%{http_code} %{size_download}\n' \
            "http://127.0.0.1:$EC$HUGE" >"$WORK/pull/rss-$i.out" &
        CLIENT_PIDS+=($!)
    done
    max_anon=0 max_file=0
    for _ in $(seq $((RSS_MAX_TIME * 10 + 50))); do # bounded: the clients stop at RSS_MAX_TIME
        a=$(status_kb RssAnon) f=$(status_kb RssFile)
        ((a > max_anon)) && max_anon=$a
        ((f > max_file)) && max_file=$f
        running=0
        for pid in "${CLIENT_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && running=1 && break; done
        ((running)) || break
        sleep 0.1
    done
    for pid in "${CLIENT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CLIENT_PIDS=()
    end=$(date +%s.%N)
    hwm=$(status_kb VmHWM)
    ok=0
    [[ $(cut -d' ' -f1 "$WORK/pull/rss-0.sha") == "${HUGE_DIGEST#sha256:}" ]] && ok=1
    size=$(stat -c %s "$WORK/layout/blobs/sha256/${HUGE_DIGEST#sha256:}")
    ok=$((ok + $(cat "$WORK"/pull/rss-[1-9]*.out 2>/dev/null | grep -c "^200 $size$" || true)))
    secs=$(python3 -c "print(f'{$end - $start:.1f}')")
    echo "$phase hwm_kb=$hwm anon_kb=$max_anon file_kb=$max_file ok=$ok clients=$RSS_CLIENTS seconds=$secs" \
        | tee -a "$RESULTS/rss.txt" >&2
    rm -f "$WORK"/pull/rss-*
done
stop envcache

fi # cold_rows

if [[ $MODE == full || $MODE == tls ]]; then # sections 5b and 5c
# --- 5b. warm TLS throughput: envcache with server.tls against nginx with ssl, same files ----
make_certificate
ET=$("${LIB[@]}" free-port)
rm -rf "$WORK/envcache-tls"
start_envcache envcache-tls "$ET" "$WORK/envcache-tls" "$UP" tls
NT1=$("${LIB[@]}" free-port)
start_nginx nginx-tls1 "$NT1" 1 tls
NT2=$("${LIB[@]}" free-port)
start_nginx nginx-tls2 "$NT2" 2 tls
PORT+=([nginx-tls1]=$NT1 [nginx-tls2]=$NT2 [envcache-tls]=$ET)
log "warming envcache-tls: pulling bench/small and bench/large once"
for repo in bench/small bench/large; do skopeo_pull "$ET" "$repo" "$WORK/pull/warm"; done
for c in nginx-tls1 nginx-tls2 envcache-tls; do
    "${LIB[@]}" verify "https://127.0.0.1:${PORT[$c]}" "$URLS/small.txt" "$URLS/large.txt" >&2
done
for round in $(seq "$ROUNDS"); do
    for c in nginx-tls1 nginx-tls2 envcache-tls; do run_wrk tls-small "$c" "$round" "$URLS/small.txt"; done
    for c in nginx-tls1 nginx-tls2 envcache-tls; do run_wrk tls-large "$c" "$round" "$URLS/large.txt"; done
done
stop nginx-tls1
stop nginx-tls2
stop envcache-tls
if [[ -n ${BASELINE:-} ]]; then
    # Plain HTTP, this build against BASELINE (another envcache binary), same warm manifests
    # and blobs, alternated in each round: an A/B of two builds on the same machine state.
    EP=$("${LIB[@]}" free-port)
    EB=$("${LIB[@]}" free-port)
    start_envcache envcache-plain "$EP" "$WORK/envcache-plain" "$UP"
    ENVCACHE=$BASELINE start_envcache baseline-plain "$EB" "$WORK/baseline-plain" "$UP"
    PORT+=([envcache-plain]=$EP [baseline-plain]=$EB)
    for c in envcache-plain baseline-plain; do
        for repo in bench/small bench/large; do skopeo_pull "${PORT[$c]}" "$repo" "$WORK/pull/warm"; done
    done
    for round in $(seq "$ROUNDS"); do
        for c in baseline-plain envcache-plain; do
            run_wrk plain-manifests "$c" "$round" "$URLS/manifests.txt" -H "Accept: $MANIFEST_ACCEPT"
        done
        for c in baseline-plain envcache-plain; do run_wrk plain-small "$c" "$round" "$URLS/small.txt"; done
        for c in baseline-plain envcache-plain; do run_wrk plain-large "$c" "$round" "$URLS/large.txt"; done
    done
    stop envcache-plain
    stop baseline-plain
fi

# --- 5c. pass-through: the upstream HEADs it adds, per caller credential and repository -----
# docker-registry with basic auth (two users) behind envcache as a passthrough upstream; each
# user pulls each of two repositories PASS_PULLS times within decision_ttl. The registry's
# access log counts the manifest HEADs: at most one per credential and repository.
PASS_PULLS=${PASS_PULLS:-5}
htpasswd -cbB "$WORK/pass.htpasswd" alice alice-bench-pw >/dev/null 2>&1
htpasswd -bB "$WORK/pass.htpasswd" bob bob-bench-pw >/dev/null 2>&1
PR=$("${LIB[@]}" free-port)
rm -rf "$WORK/pass-upstream"
start_registry pass-upstream "$PR" "$WORK/pass-upstream" "" "$WORK/pass.htpasswd"
for repo in pass/one pass/two; do
    timeout 600 skopeo --insecure-policy copy -q --dest-tls-verify=false \
        --dest-creds alice:alice-bench-pw "oci:$WORK/layout:bench_small_v1" \
        "docker://127.0.0.1:$PR/$repo:v1"
done
EPASS=$("${LIB[@]}" free-port)
start_envcache envcache-pass "$EPASS" "$WORK/envcache-pass" "$PR" "" \
    "$(printf 'access: passthrough\ndecision_ttl: 1m')"
heads_before=$(grep -c '"HEAD /v2/pass/' "$WORK/pass-upstream/log" || true)
pulls=0
for round in $(seq "$PASS_PULLS"); do
    for user in alice:alice-bench-pw bob:bob-bench-pw; do
        for repo in pass/one pass/two; do
            rm -rf "$WORK/pull/pass"
            timeout 600 skopeo --insecure-policy copy -q --src-tls-verify=false \
                --src-creds "$user" "docker://127.0.0.1:$EPASS/$repo:v1" "dir:$WORK/pull/pass"
            pulls=$((pulls + 1))
        done
    done
done
heads=$(($(grep -c '"HEAD /v2/pass/' "$WORK/pass-upstream/log" || true) - heads_before))
echo "pass-through: $heads upstream manifest HEADs for $pulls pulls by 2 credentials of 2 repositories within decision_ttl (at most 4)" \
    | tee "$RESULTS/passthrough.txt" >&2
stop envcache-pass
stop pass-upstream

fi # full or tls

# --- 6. the tables ---------------------------------------------------------------------------
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB," \
        "$(uname -r); wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s; envcache at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
    echo
    "${LIB[@]}" table "$RESULTS"
    echo
    if [[ -f $RESULTS/passthrough.txt ]]; then cat "$RESULTS/passthrough.txt"; fi
} | tee "$RESULTS/results.md"
log "raw results in $RESULTS"
