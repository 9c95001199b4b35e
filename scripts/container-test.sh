#!/usr/bin/env bash
# The container test (.ci/run runs it last): the image built as users build it, then run as users run it.
#  1. scripts/container.sh build: docker/Dockerfile with whatever engine works (docker, else podman).
#  2. `IMAGE --help` starts (timed), as the terraseg user.
#  3. configs/sample.yaml inside the container, the sample mounted read-only and the output on a volume:
#     its outputs (masks, indicators, STAC Items, GeoPackages) equal a native run's (scripts/output-digest.sh).
#  4. The Kubernetes Indexed Job contract (docker/k8s-indexed-job.yaml) as N containers (default 3) on one
#     shared output volume, each with JOB_COMPLETION_INDEX=i and TERRASEG_SHARD_COUNT=N and the Job's
#     arguments (--resume): a config of 3 regions x 2 tasks (6 units). One shard is sent SIGTERM in the middle
#     of a unit (what Kubernetes sends on eviction): it must exit 143 leaving no temporary; it is then
#     restarted as Kubernetes restarts a failed pod. With no manual step, the last shard to finish writes
#     run-summary.json, the report and the STAC Collection, and every output equals one native run's.
# A machine where no container engine can work (no docker daemon, not root to set up podman, no apt, or
# the engine cannot start a container) skips the test with one line saying why, and exit 0.
#   scripts/container-test.sh      Environment: TERRASEG (native binary; build-ci, else build), SHARDS (3),
#                                  IMAGE (terraseg:test), CPUS_PER_SHARD (1: each shard's CPU limit, as in
#                                  the Kubernetes example, which sets terraseg's thread count)
set -euo pipefail
cd "$(dirname "$0")/.."
export IMAGE="${IMAGE:-terraseg:test}"
shards="${SHARDS:-3}"
cpus="${CPUS_PER_SHARD:-1}"
if [ -n "${TERRASEG:-}" ]; then terraseg="$TERRASEG"
elif [ -x build-ci/pipeline/terraseg ]; then terraseg=build-ci/pipeline/terraseg
else terraseg=build/pipeline/terraseg; fi
[ -x "$terraseg" ] || { echo "container-test: no native terraseg at $terraseg (build it first: scripts/setup.sh)" >&2; exit 1; }
[ -s samples/aerial/bremen-a1.tif ] || scripts/make-samples.sh

status=0
notes="$(mktemp)"
scripts/container.sh engine 2> "$notes" >/dev/null || status=$?   # installs podman, makes the base: minutes
grep -v '^container.sh: no container engine' "$notes" >&2 || true
reason="$(grep "^container.sh: no container engine" "$notes" | tail -1 | sed "s/^container.sh: //" || true)"
rm -f "$notes"
if [ "$status" -eq 3 ]; then
  echo "container test SKIPPED: $reason"
  exit 0
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
engine() { scripts/container.sh run "$@"; }

work="$(mktemp -d /var/tmp/terraseg-container-test.XXXXXX)"
containers=()
cleanup() {
  for c in "${containers[@]}"; do engine rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }
seconds_since() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))" | awk '{printf "%.1f", $1 / 1000}'; }

echo "-- image build"
start=$(date +%s%N)
if ! scripts/container.sh build > "$work/build.log" 2>&1; then
  tail -40 "$work/build.log"
  echo "FAILED: image build" >&2
  exit 1
fi
grep -E '^container.sh:|^runtime-deps:' "$work/build.log" || true
echo "$(grep -c -- '--> Using cache' "$work/build.log" || true) build steps from cache"
size_mb=$(engine image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f", $1 / 1e6}')
echo "image $IMAGE: ${size_mb} MB, built in $(seconds_since "$start") s ($(engine --version))"
[ "$size_mb" -lt 1000 ] || fail "image is ${size_mb} MB, not under 1 GB"

echo "-- $IMAGE --help"
start=$(date +%s%N)
engine run --rm --network none "$IMAGE" --help > "$work/help.txt"
echo "run --rm $IMAGE --help: $(seconds_since "$start") s"
grep -q 'Batch job over the regions' "$work/help.txt" || fail "--help printed no usage"
[ "$(engine run --rm --network none --entrypoint id "$IMAGE" -u)" = 10001 ] || fail "the image does not run as uid 10001"

# A config of the sample's, writing to OUT, reading the sample from SAMPLES; with more regions if asked.
config_for() {  # config_for OUT SAMPLES [REGIONS]
  sed -e "s|^output_dir:.*|output_dir: $1|" -e "s|\.\./samples/|$2/|g" configs/sample.yaml
  if [ -n "${3:-}" ]; then
    echo "  # more regions over the same photo: units for the shards ($(basename "$0"))"
    for r in $(seq 2 "$3"); do
      printf '  - name: bremen-a1-%s\n    inputs: [%s/aerial/bremen-a1.tif]\n    tasks: [roads, landcover]\n' "$r" "$2"
    done
  fi
}
mkdir -p "$work/config" "$work/native" "$work/sample" "$work/scale-native" "$work/scale"
chmod 0777 "$work/sample" "$work/scale"   # the containers write as uid 10001
# The sample mounted where it is on this machine: STAC Items name their input and model by path.
mounts=(-v "$PWD/samples:$PWD/samples:ro" -v "$work/config:/config:ro")

echo "-- configs/sample.yaml: native and in the container"
config_for "$work/native" "$PWD/samples" > "$work/native.yaml"
config_for /out "$PWD/samples" > "$work/config/sample.yaml"
start=$(date +%s%N)
"$terraseg" run "$work/native.yaml" -q
echo "native: $(seconds_since "$start") s"
start=$(date +%s%N)
engine run --rm --network none "${mounts[@]}" -v "$work/sample:/out" "$IMAGE" /config/sample.yaml -q
echo "container: $(seconds_since "$start") s"
scripts/output-digest.sh "$work/native" > "$work/native.digest"
scripts/output-digest.sh "$work/sample" > "$work/sample.digest"
test -s "$work/sample/run-summary.json" || fail "the container's sample run wrote no run-summary.json"
if diff "$work/native.digest" "$work/sample.digest" > "$work/sample.diff"; then
  echo "sample outputs identical to the native run's ($(wc -l < "$work/native.digest") outputs); masks:"
  (cd "$work/sample" && sha256sum -- */*.tif */masks/*.tif | sed 's/^/  /')
else
  fail "the container's sample outputs differ from the native run's:"; head -20 "$work/sample.diff"
  scripts/output-digest.sh --explain "$work/native" "$work/sample" | head -20
fi

echo "-- Indexed Job: $shards containers (--cpus $cpus each), one output volume, one shard sent SIGTERM mid-unit"
config_for "$work/scale-native" "$PWD/samples" 3 > "$work/scale-native.yaml"
config_for /out "$PWD/samples" 3 > "$work/config/scale.yaml"
start=$(date +%s%N)
"$terraseg" run "$work/scale-native.yaml" -q
echo "native single run (6 units): $(seconds_since "$start") s"
scripts/output-digest.sh "$work/scale-native" > "$work/scale-native.digest"

names=()
run_shard() {  # run_shard I NAME: one pod of the Indexed Job, detached; names[I]=NAME
  names[$1]="$2"
  containers+=("$2")
  engine run -d --name "$2" --network none --cpus "$cpus" "${mounts[@]}" -v "$work/scale:/out" \
    -e JOB_COMPLETION_INDEX="$1" -e TERRASEG_SHARD_COUNT="$shards" \
    "$IMAGE" /config/scale.yaml --resume -q >/dev/null
}
exit_code() { engine wait "$1" | tail -1; }
log="$work/scale/terraseg-log.jsonl"
start=$(date +%s%N)
for i in $(seq 0 $((shards - 1))); do run_shard "$i" "terraseg-shard-$i-$$"; done
# The victim: the first shard seen starting a roads unit (the longer task), sent SIGTERM 0.3 s later.
victim=""
for _ in $(seq 1 600); do
  victim=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "unit_start" and e.get("task") == "roads":
        print(e["shard"].split("/")[0]); break' "$log" 2>/dev/null || true)
  [ -n "$victim" ] && break
  sleep 0.1
done
[ -n "$victim" ] || { fail "no shard started a roads unit within 60 s"; victim=0; }
sleep 0.3
killed=$(date +%s%N)
engine kill --signal TERM "${names[$victim]}" >/dev/null
code=$(exit_code "${names[$victim]}")
interrupted=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "interrupted" and e.get("shard") == sys.argv[2]: print(e.get("unit", ""))' "$log" "$victim/$shards")
echo "shard $victim sent SIGTERM: exit $code $(seconds_since "$killed") s after the signal, in unit '$interrupted'"
[ "$code" = 143 ] || fail "shard $victim ended with exit $code after SIGTERM mid-unit, not 143"
[ -n "$interrupted" ] || fail "the log records no interruption of shard $victim within a unit"
# The other shards finish meanwhile (their temporaries are theirs while they run); then no temporary may be
# left anywhere: the terminated shard removed its own.
for i in $(seq 0 $((shards - 1))); do
  [ "$i" = "$victim" ] && continue
  code=$(exit_code "${names[$i]}")
  [ "$code" = 0 ] || { fail "shard $i exited $code"; engine logs "${names[$i]}" | tail -5; }
done
left=$(find "$work/scale" \( -name '*.tmp*' -o -name '*.native-*' \) | sed "s|$work/scale/||")
[ -z "$left" ] || fail "temporaries left after the other shards finished, the terminated one not restarted: $left"
[ ! -e "$work/scale/run-summary.json" ] || fail "run-summary.json written while shard $victim's units were not done"
# Restarted as Kubernetes restarts a failed pod of an Indexed Job: same index, same arguments.
run_shard "$victim" "terraseg-shard-$victim-restarted-$$"
code=$(exit_code "${names[$victim]}")
[ "$code" = 0 ] || { fail "restarted shard $victim exited $code"; engine logs "${names[$victim]}" | tail -5; }
echo "all $shards shards done: $(seconds_since "$start") s, the restart included"
python3 - "$log" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
for e in events:
    if e["event"] in ("run_start", "interrupted", "shard_done", "run_done"):
        extra = {k: e[k] for k in ("resume", "computed_here", "pending", "units", "unit") if k in e}
        print(f'  {e["time"]} shard {e["shard"]} pid {e["pid"]}: {e["event"]} {json.dumps(extra)}')
EOF
for f in run-summary.json report.html collection.json; do
  test -s "$work/scale/$f" || fail "no $f after every shard finished (the last shard should write it)"
done
left=$(find "$work/scale" \( -name '*.tmp*' -o -name '*.native-*' \) | wc -l)
[ "$left" -eq 0 ] || fail "$left temporaries left after the job"
scripts/output-digest.sh "$work/scale" > "$work/scale.digest"
if diff "$work/scale-native.digest" "$work/scale.digest" > "$work/scale.diff"; then
  echo "merged outputs of $shards shards identical to one native run ($(wc -l < "$work/scale.digest") outputs)"
else
  fail "the shards' merged outputs differ from one native run's:"; head -20 "$work/scale.diff"
  scripts/output-digest.sh --explain "$work/scale-native" "$work/scale" | head -20
fi
summary_units=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["units"]))' "$work/scale/run-summary.json" 2>/dev/null || echo "?")
native_units=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["units"]))' "$work/scale-native/run-summary.json")
[ "$summary_units" = "$native_units" ] || fail "run-summary.json lists $summary_units units, the native run's $native_units"

[ "$failures" -eq 0 ] || { echo "container test: $failures failure(s)"; exit 1; }
echo "container test ok"
