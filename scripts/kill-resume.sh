#!/usr/bin/env bash
# Crash safety of the sample run, measured: runs configs/sample.yaml once to a reference, then N times
# (default 20) starts it into a fresh output folder, kills it at a random moment of its run time,
# resumes it with --resume to completion, and checks that every output is byte-identical to the
# reference (GeoPackages compared by their features, as SQLite pages carry timestamps) and that no
# temporary (*.tmp*, *.native-*) is left anywhere. The kills alternate between SIGKILL (nothing can
# clean up: --resume must) and SIGTERM (what Kubernetes sends on eviction: the run must end by itself
# with exit 143, or 0 if it had finished, leaving no temporary even before the resume).
#   scripts/kill-resume.sh [N]        Environment: TERRASEG (build/pipeline/terraseg), SEED (1),
#                                     SIGNALS ("KILL TERM": the signals taken in turn)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
terraseg="${TERRASEG:-build/pipeline/terraseg}"
RANDOM="${SEED:-1}"
read -r -a signals <<< "${SIGNALS:-KILL TERM}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

config_for() {  # the sample config writing into $1, with paths into the source tree
  sed -e "s|^output_dir:.*|output_dir: $1|" -e "s|\.\./samples/|$PWD/samples/|g" configs/sample.yaml > "$1.yaml"
}
digest() {  # what must not differ between two runs (scripts/output-digest.sh): rasters and JSON byte for
            # byte, STAC Items less their run time, GeoPackages by features
  scripts/output-digest.sh "$1"
}

config_for "$work/reference"
start=$(date +%s%N)
"$terraseg" run "$work/reference.yaml" -q
duration_ms=$(( ($(date +%s%N) - start) / 1000000 ))
digest "$work/reference" > "$work/reference.digest"
echo "reference run: ${duration_ms} ms, $(wc -l < "$work/reference.digest") outputs"

failures=0
for i in $(seq 1 "$n"); do
  out="$work/run-$i"
  config_for "$out"
  delay=$(( RANDOM % duration_ms ))
  signal="${signals[$(( (i - 1) % ${#signals[@]} ))]}"
  "$terraseg" run "$out.yaml" -q & pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -s "$signal" "$pid" 2>/dev/null || true
  status=0
  wait "$pid" 2>/dev/null || status=$?
  clean_end=ok
  if [ "$signal" = TERM ]; then
    # SIGTERM: the run itself ends cleanly, 143 (or 0 if it finished first), nothing temporary left.
    early=$(find "$out" \( -name '*.tmp*' -o -name '*.native-*' \) 2>/dev/null | wc -l)
    if { [ "$status" -ne 143 ] && [ "$status" -ne 0 ]; } || [ "$early" -ne 0 ]; then
      clean_end="exit $status, $early temporaries left by the terminated run"
    fi
  fi
  "$terraseg" run "$out.yaml" -q --resume
  leftovers=$(find "$out" \( -name '*.tmp*' -o -name '*.native-*' \) | wc -l)
  if digest "$out" | diff -q - "$work/reference.digest" >/dev/null && [ "$leftovers" -eq 0 ] && [ "$clean_end" = ok ]; then
    echo "SIG$signal at ${delay} ms (exit $status): resumed, identical, no leftovers"
  else
    failures=$((failures + 1))
    echo "SIG$signal at ${delay} ms: FAILED (leftovers: $leftovers; $clean_end)"
    digest "$out" | diff - "$work/reference.digest" | head -5 || true
  fi
  rm -rf "$out" "$out.yaml"
done
echo "$((n - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
