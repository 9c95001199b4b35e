#!/usr/bin/python3
"""Validates the STAC documents of a terraseg run offline.

    scripts/validate-stac.py OUT_DIR_OR_FILE...

Every `*.stac.json` (Items) and `collection.json` found under the arguments is checked against the
STAC 1.0.0 core schema of its type and against the schema of every extension it names, from the copies
in tests/stac/schemas/ (written for these tests from the STAC 1.0.0 spec and the extensions' READMEs:
Debian and npm ship no STAC schemas, and CI has no network). An extension without a local schema is an
error, not a skip. Relative hrefs of links and assets must name files that exist.
Uses python3-jsonschema (Debian). Exit 0 when all are valid, 1 otherwise (one line per problem).
"""
import json
import pathlib
import sys

import jsonschema

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "tests" / "stac" / "schemas"
EXTENSIONS = {
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json": "projection-1.1.0.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster-1.1.0.json",
    "https://stac-extensions.github.io/classification/v1.1.0/schema.json": "classification-1.1.0.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json": "file-2.1.0.json",
}


def load_schemas():
    store = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        store[schema["$id"]] = schema
        store[path.name] = schema
    return store


def validator_for(name, store):
    schema = store[name]
    resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    return jsonschema.Draft7Validator(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())


def documents(arguments):
    for argument in arguments:
        path = pathlib.Path(argument)
        if path.is_dir():
            yield from sorted(path.rglob("*.stac.json"))
            yield from sorted(path.rglob("collection.json"))
        else:
            yield path


def check(path, store):
    problems = []
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        return [f"{path}: not readable as JSON: {error}"]
    kind = doc.get("type")
    core = {"Feature": "item-1.0.0.json", "Collection": "collection-1.0.0.json"}.get(kind)
    if core is None:
        return [f"{path}: type {kind!r} is neither an Item ('Feature') nor a 'Collection'"]
    names = [core]
    for url in doc.get("stac_extensions", []):
        if url not in EXTENSIONS:
            problems.append(f"{path}: extension {url} has no local schema in {SCHEMAS}: cannot check it offline")
        else:
            names.append(EXTENSIONS[url])
    for name in names:
        for error in validator_for(name, store).iter_errors(doc):
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            problems.append(f"{path}: {name}: at {where}: {error.message}")
    hrefs = [link.get("href", "") for link in doc.get("links", [])]
    hrefs += [asset.get("href", "") for asset in doc.get("assets", {}).values()]
    for href in hrefs:
        if href.startswith(("./", "../")) and not (path.parent / href).exists():
            problems.append(f"{path}: href {href} names no file")
    return problems


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    store = load_schemas()
    paths = list(documents(sys.argv[1:]))
    if not paths:
        print("validate-stac: no *.stac.json or collection.json under " + " ".join(sys.argv[1:]), file=sys.stderr)
        return 1
    problems = [problem for path in paths for problem in check(path, store)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"validate-stac: {len(paths)} document(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
