#!/usr/bin/env bash
# Crash safety of the sample run, measured: runs configs/sample.yaml once to a reference, then N times
# (default 20) starts it into a fresh output folder, kills it with SIGKILL at a random moment of its
# run time, resumes it with --resume to completion, and checks that every output is byte-identical to
# the reference (GeoPackages compared by their features, as SQLite pages carry timestamps) and that no
# temporary (*.tmp*, *.native-*) is left anywhere.
#   scripts/kill-resume.sh [N]        Environment: TERRASEG (build/pipeline/terraseg), SEED (1)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
terraseg="${TERRASEG:-build/pipeline/terraseg}"
RANDOM="${SEED:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

config_for() {  # the sample config writing into $1, with paths into the source tree
  sed -e "s|^output_dir:.*|output_dir: $1|" -e "s|\.\./samples/|$PWD/samples/|g" configs/sample.yaml > "$1.yaml"
}
digest() {  # what must not differ between two runs: rasters and JSON byte for byte, GeoPackages by features
  (cd "$1" && find . -type f ! -name '*.gpkg' ! -name 'terraseg-log.jsonl' ! -name 'run-summary.json' \
      ! -path './.terraseg/*' ! -name 'report.html' ! -path './report/*' ! -name '*.aux.xml' -print0 | sort -z | xargs -0 sha256sum
   find . -name '*.gpkg' | sort | while read -r g; do echo "$g"; ogrinfo -ro -al -q "$g" | grep -v -i "time\|date" | sha256sum; done)
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
  "$terraseg" run "$out.yaml" -q & pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  "$terraseg" run "$out.yaml" -q --resume
  leftovers=$(find "$out" \( -name '*.tmp*' -o -name '*.native-*' \) | wc -l)
  if digest "$out" | diff -q - "$work/reference.digest" >/dev/null && [ "$leftovers" -eq 0 ]; then
    echo "kill at ${delay} ms: resumed, identical, no leftovers"
  else
    failures=$((failures + 1))
    echo "kill at ${delay} ms: FAILED (leftovers: $leftovers)"; digest "$out" | diff - "$work/reference.digest" | head -5 || true
  fi
  rm -rf "$out" "$out.yaml"
done
echo "$((n - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
