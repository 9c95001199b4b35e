#!/usr/bin/env bash
# What must not differ between two runs of the same config into OUTPUT_DIR, one line per output:
# rasters and JSON byte for byte (sha256), STAC Items less their run time (`created`, a `datetime` taken
# from the run, the `collection` and its links: the folder's name, and the `self` link: its URL), GeoPackages by their features (SQLite
# pages carry timestamps). Left out: the run's own records (run-summary.json, terraseg-log.jsonl,
# .terraseg/), the report and the Collection (they state when and how long), licences.md (it names the
# model files as the config spells them), GDAL's *.aux.xml.
# Two runs agree when their digests are equal:  diff <(scripts/output-digest.sh A) <(scripts/output-digest.sh B)
# Used by scripts/kill-resume.sh and scripts/container-test.sh. Needs python3 and ogrinfo (gdal-bin).
# scripts/output-digest.sh --explain A B: where the STAC Items of two output folders differ, key by key
# (a digest line says only that they do).
set -euo pipefail
if [ "${1:-}" = "--explain" ]; then
  python3 - "$2" "$3" <<'EOF'
import json, pathlib, sys
a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def flat(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items(): yield from flat(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for i, v in enumerate(value): yield from flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value
skip = ("properties.created", "properties.datetime", "collection", "links")
for item in sorted(a.rglob("*.stac.json")):
    other = b / item.relative_to(a)
    if not other.exists():
        print(f"{item.relative_to(a)}: only in {a}"); continue
    x, y = dict(flat(json.load(open(item)))), dict(flat(json.load(open(other))))
    for key in sorted(set(x) | set(y)):
        if key.startswith(skip) or x.get(key) == y.get(key): continue
        print(f"{item.relative_to(a)}: {key}: {x.get(key)!r} != {y.get(key)!r}")
EOF
  exit 0
fi
dir="$1"

stac_without_run_time() {  # an Item less what differs between two runs: when it was made, the folder's name and URL
  python3 -c 'import json, sys
item = json.load(open(sys.argv[1]))
props = item.get("properties", {})
props.pop("created", None)
if props.get("terraseg:datetime_source", "").startswith("the run"): props.pop("datetime", None)
item.pop("collection", None)
item["links"] = [l for l in item.get("links", []) if l.get("rel") not in ("collection", "parent", "root", "self")]
print(json.dumps(item, sort_keys=True))' "$1"
}

cd "$dir"
find . -type f ! -name '*.gpkg' ! -name 'terraseg-log.jsonl' ! -name 'run-summary.json' \
    ! -path './.terraseg/*' ! -name 'report.html' ! -path './report/*' ! -name '*.aux.xml' ! -name '*.stac.json' \
    ! -name 'collection.json' ! -name 'licences.md' -print0 | sort -z | xargs -0 -r sha256sum
find . -name '*.stac.json' | sort | while read -r item; do echo "$item $(stac_without_run_time "$item" | sha256sum)"; done
find . -name '*.gpkg' | sort | while read -r g; do echo "$g"; ogrinfo -ro -al -q "$g" | grep -v -i "time\|date" | sha256sum; done
