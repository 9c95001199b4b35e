#!/usr/bin/env bash
# The house's static checks, in one command: clang-format (.clang-format) and clang-tidy (.clang-tidy,
# every check's finding an error). Run it before every commit; CI runs it with --all.
#   scripts/check.sh [--all] [--fix] [--format-only | --tidy-only] [FILE...]
#   (default)       the C++ files changed against HEAD (staged, unstaged, untracked); a changed header
#                   brings the sources that include it, so its findings are seen
#   --all           every C++ file in the tree (CI; about 15 minutes on 2 cores, docs/reliability.md)
#   --fix           rewrite the files with clang-format instead of failing on them (tidy still only
#                   reports: its fixes are reviewed by hand)
#   FILE...         just these files
# clang-tidy reads compile commands from a clang configuration of the whole tree, fuzzers included
# (TIDY_BUILD_DIR, default build-tidy; configured, never built: no generated sources are needed).
# Exit status: 0 clean, 1 findings, 2 usage or missing tools.
# Environment: TIDY_BUILD_DIR (build-tidy), JOBS (nproc), CLANG_VERSION (14: Debian 12's clang).
set -euo pipefail
cd "$(dirname "$0")/.."

version="${CLANG_VERSION:-14}"
format_tool="clang-format-$version"
tidy_tool="clang-tidy-$version"
run_tidy="run-clang-tidy-$version"
build="${TIDY_BUILD_DIR:-build-tidy}"
jobs="${JOBS:-$(nproc)}"

all=0 fix=0 do_format=1 do_tidy=1
files=()
for arg in "$@"; do
  case "$arg" in
    --all) all=1 ;;
    --fix) fix=1 ;;
    --format-only) do_tidy=0 ;;
    --tidy-only) do_format=0 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check.sh: unknown option '$arg' (known: --all, --fix, --format-only, --tidy-only)" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done
for tool in "$format_tool" "$tidy_tool" "$run_tidy"; do
  if ! command -v "$tool" >/dev/null; then
    echo "check.sh: $tool not found: run scripts/setup.sh (it installs clang-format-$version and clang-tidy-$version)" >&2
    exit 2
  fi
done

cxx='\.(cpp|hpp|h)$'
if [ "$all" -eq 1 ]; then
  mapfile -t files < <(git ls-files | grep -E "$cxx")
elif [ "${#files[@]}" -eq 0 ]; then
  mapfile -t files < <({ git diff --name-only HEAD; git ls-files --others --exclude-standard; } |
    grep -E "$cxx" | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "check.sh: no changed C++ files (--all checks the whole tree)"
  exit 0
fi
start=$SECONDS
status=0

if [ "$do_format" -eq 1 ]; then
  if [ "$fix" -eq 1 ]; then
    "$format_tool" -i "${files[@]}"
    echo "== clang-format: ${#files[@]} files formatted"
  elif ! "$format_tool" --dry-run -Werror "${files[@]}"; then
    echo "check.sh: unformatted code above: scripts/check.sh --fix formats it" >&2
    status=1
  else
    echo "== clang-format: ${#files[@]} files clean"
  fi
fi

if [ "$do_tidy" -eq 1 ]; then
  if [ ! -f "$build/compile_commands.json" ] ||
     [ -n "$(git ls-files -z '*CMakeLists.txt' 'cmake/*' | xargs -0 -I{} find {} -newer "$build/compile_commands.json")" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
      -DTERRASEG_FUZZ=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
  fi
  # The translation units to run on: sources as they are; a header by every source including it.
  mapfile -t units < <(/usr/bin/python3 - "$build/compile_commands.json" "${files[@]}" <<'EOF'
import json, os, re, sys
database, changed = sys.argv[1], sys.argv[2:]
sources = sorted({os.path.relpath(entry["file"]) for entry in json.load(open(database))})
units = set()
for path in changed:
    if path in sources:
        units.add(path)
    elif path.endswith((".hpp", ".h")):
        name = re.escape(os.path.basename(path))
        pattern = re.compile(r'#include\s+[<"][^">]*\b' + name + r'[">]')
        for source in sources:
            with open(source, encoding="utf-8") as text:
                if pattern.search(text.read()):
                    units.add(source)
print("\n".join(sorted(units)))
EOF
  )
  if [ "${#units[@]}" -eq 0 ]; then
    echo "== clang-tidy: no translation unit to check"
  else
    echo "== clang-tidy: ${#units[@]} translation units, $jobs at a time"
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    # -quiet: findings only. Every finding is an error (WarningsAsErrors in .clang-tidy), so
    # run-clang-tidy exits non-zero on any.
    regex="^$(pwd)/($(printf '%s|' "${units[@]}" | sed 's/[.+]/\\&/g; s/|$//'))\$"
    if ! "$run_tidy" -p "$build" -j "$jobs" -quiet -clang-tidy-binary "$(command -v "$tidy_tool")" \
         "$regex" >"$log" 2>&1; then
      grep -E -A3 '(warning|error): ' "$log" || cat "$log"
      echo "check.sh: clang-tidy findings above ($(grep -cE '(warning|error): ' "$log" || true) lines)" >&2
      status=1
    else
      echo "== clang-tidy: clean"
    fi
  fi
fi
echo "check.sh: $((SECONDS - start)) s"
exit "$status"
