#!/usr/bin/env bash
# Builds the four libFuzzer targets with clang, AddressSanitizer and UndefinedBehaviorSanitizer, and
# runs each for FUZZ_SECONDS (default 60) from seeds the project ships or makes: the region configs,
# small ONNX models, small rasters, the street-view points CSVs, and every earlier crash input kept
# under tests/fuzz/regressions/<target>/ (each run replays those first). A crash, leak or sanitizer
# report fails the script; the input is saved under tests/fuzz/regressions/<target>/ to be committed
# as a regression seed once fixed.
#   scripts/fuzz.sh [TARGET...]          (default: fuzz_config fuzz_onnx fuzz_raster fuzz_points_csv)
# Environment: FUZZ_SECONDS (60), FUZZ_BUILD_DIR (build-fuzz), JOBS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${FUZZ_BUILD_DIR:-build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(fuzz_config fuzz_onnx fuzz_raster fuzz_points_csv)

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DTERRASEG_FUZZ=ON -DTERRASEG_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
seeds() {  # seed files for target $1, copied into $2
  local target="$1" dir="$2"
  mkdir -p "$dir"
  case "$target" in
    fuzz_config) cp tests/fuzz/config-corpus/*.yaml configs/*.yaml "$dir"/ ;;
    fuzz_onnx)
      cp tests/reference/*.onnx "$dir"/
      for model in /usr/share/libonnx-testdata/data/node/test_{conv,relu,maxpool_2d_default,averagepool_2d_default}/model.onnx; do
        [ -f "$model" ] && cp "$model" "$dir/$(basename "$(dirname "$model")").onnx"
      done ;;
    fuzz_raster)
      for spec in "GTiff Byte 3" "GTiff UInt16 1" "GTiff Float32 4" "PNG Byte 3" "JPEG Byte 3" "PNG Byte 1"; do
        set -- $spec
        # the single band of the Chicago scan, repeated to the band count
        gdal_translate -q -of "$1" -ot "$2" -outsize 24 16 $(printf -- '-b 1 %.0s' $(seq 1 "$3")) \
          /usr/lib/R/site-library/rgdal/pictures/SP27GTIF.TIF "$dir/seed-$1-$2-$3.${1,,}" 2>/dev/null || true
      done
      rm -f "$dir"/*.aux.xml ;;
    fuzz_points_csv) cp samples/street/*.csv "$dir"/ ;;
  esac
  if [ -d "tests/fuzz/regressions/$target" ]; then cp "tests/fuzz/regressions/$target"/* "$dir"/ 2>/dev/null || true; fi
}

status=0
for target in "${targets[@]}"; do
  seeds "$target" "$work/seeds-$target"
  mkdir -p "$work/corpus-$target" "tests/fuzz/regressions/$target"
  echo "== $target: ${seconds} s (ASan + UBSan), seeds: $(ls "$work/seeds-$target" | wc -l)"
  log="$work/$target.log"
  dict=()
  [ -f "tests/fuzz/${target#fuzz_}.dict" ] && dict=(-dict="tests/fuzz/${target#fuzz_}.dict")
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
     "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -seed=1 \
       -artifact_prefix="tests/fuzz/regressions/$target/" "${dict[@]}" "$work/corpus-$target" "$work/seeds-$target" >"$log" 2>&1; then
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$log" | tail -1 || tail -1 "$log"
  else
    status=1
    echo "$target FAILED: the input is under tests/fuzz/regressions/$target/; last lines:"
    tail -30 "$log"
  fi
  rmdir "tests/fuzz/regressions/$target" 2>/dev/null || true
done
exit "$status"
