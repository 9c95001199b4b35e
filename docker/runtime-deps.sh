#!/usr/bin/env bash
# Run in the image's build stage: what the runtime stage needs to run BINARY, found from the binary itself
# (ldd: every shared library it loads, transitively; dpkg -S: the Debian package of each).
#   docker/runtime-deps.sh BINARY OUTDIR
# Writes OUTDIR/packages.txt (one Debian package a line, for apt-get install in the runtime stage) and
# OUTDIR/lib/ (libraries copied instead of installed, see COPY_INSTEAD).
# COPY_INSTEAD: packages whose libraries are copied rather than installed, because installing the package
# drags in far more than the library needs. Default: libopencv-contrib406, whose Depends pull Qt 5,
# Tesseract and HDF5 for modules terraseg does not load; terraseg uses only libopencv_ximgproc
# (Zhang-Suen thinning), whose own libraries (OpenCV core, imgproc, imgcodecs, video, calib3d) ldd lists
# and are installed from their packages.
set -euo pipefail
binary="$1"
out="$2"
copy_instead="${COPY_INSTEAD:-libopencv-contrib406}"
mkdir -p "$out/lib"

package_of() {  # the package owning a library path (usrmerge: /lib and /usr/lib are the same files)
  local path="$1" owner=""
  for candidate in "$path" "/usr$path" "$(readlink -f "$path")"; do
    owner="$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1)" && [ -n "$owner" ] && break
  done
  [ -n "$owner" ] || { echo "runtime-deps: no Debian package owns $path" >&2; return 1; }
  echo "$owner"
}

if ldd "$binary" | grep -q 'not found'; then
  ldd "$binary" | grep 'not found' >&2
  exit 1
fi
packages=()
while read -r lib; do
  pkg="$(package_of "$lib")"
  if [[ " $copy_instead " == *" $pkg "* ]]; then
    cp -a "$lib" "$(readlink -f "$lib")" "$out/lib/"   # the soname link and the file it names
  else
    packages+=("$pkg")
  fi
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
printf '%s\n' "${packages[@]}" | sort -u > "$out/packages.txt"
echo "runtime-deps: $(wc -l < "$out/packages.txt") packages, copied: $(ls "$out/lib" | tr '\n' ' ')"
