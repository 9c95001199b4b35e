#!/usr/bin/env bash
# Installs everything terraseg needs from Debian 12 packages, then configures and builds it.
# Idempotent: packages already present are not reinstalled, and the build is incremental.
# Used by the README, .ci/run and docker/Dockerfile alike.
#   scripts/setup.sh [--no-build] [--minimal]
#   --minimal: only what building the terraseg binary and making the sample need (the container image's
#   build stage, docker/Dockerfile): no test peers (PyTorch, ONNX, Chromium, R data, GoogleTest, clang),
#   and the build configured without tests.
# Environment: BUILD_DIR (default build), BUILD_TYPE (Release), TERRASEG_WERROR (OFF), JOBS (nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
minimal=0
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --minimal) minimal=1 ;;
    *) echo "setup.sh: unknown option '$arg' (known: --no-build, --minimal)" >&2; exit 2 ;;
  esac
done

# Build tools and libraries: what the terraseg binary needs (--minimal stops here).
packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libgdal-dev gdal-bin
  libopencv-dev libopencv-dnn-dev
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers
  libonnx-dev libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libssl-dev
)
# The sample: scripts/make-samples.sh (python3, gdal-bin) and the street-view photos (opencv-doc).
packages+=(python3 opencv-doc)
if [ "$minimal" -eq 0 ]; then
  # Tests, fuzzers and the sanitizer build; the static checks (scripts/check.sh) with the format and
  # tidy tools of the same clang (14 on Debian 12).
  clang_version=14
  packages+=(libgtest-dev libgmock-dev clang "clang-$clang_version" "libclang-rt-$clang_version-dev")
  packages+=("clang-format-$clang_version" "clang-tidy-$clang_version")
  # Sample imagery and test vectors shipped by Debian (see ../shared/data/README.md).
  packages+=(r-cran-rgdal r-cran-stars opencv-doc libonnx-testdata)
  # Reference peers for parity tests and benchmarks (PyTorch CPU, ONNX, OpenCV DNN from Python).
  packages+=(python3 python3-numpy python3-torch python3-onnx python3-opencv)
  # Offline STAC validation of the run outputs (scripts/validate-stac.py); the outputs checked in the
  # clients users run: GDAL's COG validator (python3-gdal) and QGIS itself (scripts/check-qgis.py).
  packages+=(python3-jsonschema python3-gdal python3-qgis)
  # Headless browser for the HTML report test.
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The aerial sample image (samples/aerial/bremen-a1.tif, from the sumo-tools package; not committed).
"$(dirname "$0")/make-samples.sh"

[ "$build" -eq 1 ] || exit 0
build_dir="${BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
  -DTERRASEG_WERROR="${TERRASEG_WERROR:-OFF}" \
  -DTERRASEG_BUILD_TESTS="$([ "$minimal" -eq 1 ] && echo OFF || echo ON)" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}"
