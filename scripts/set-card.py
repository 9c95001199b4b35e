#!/usr/bin/env python3
"""Sets keys of a terraseg model card inside an ONNX file, leaving the graph and weights untouched.

    scripts/set-card.py MODEL.onnx KEY=JSON [KEY=JSON ...]
    e.g. scripts/set-card.py samples/models/street-camvid.onnx tile=1536 tile_overlap=512

The card is the JSON metadata entry "terraseg.model_card" (see ../shared/docs/contract.md). The file is
rewritten through a temporary name and renamed, so it is never left half-written. Needs python3-onnx
(installed by scripts/setup.sh); run it with Debian's /usr/bin/python3.
"""
import json
import os
import sys

import onnx

CARD_KEY = "terraseg.model_card"


def main(argv):
    if len(argv) < 3 or any("=" not in a for a in argv[2:]):
        sys.exit(__doc__)
    path = argv[1]
    model = onnx.load(path)
    entry = next((p for p in model.metadata_props if p.key == CARD_KEY), None)
    if entry is None:
        sys.exit(f"{path}: has no terraseg model card to edit")
    card = json.loads(entry.value)
    for assignment in argv[2:]:
        key, value = assignment.split("=", 1)
        try:
            card[key] = json.loads(value)
        except json.JSONDecodeError:
            card[key] = value
    entry.value = json.dumps(card, indent=2)
    temp = path + ".tmp-set-card"
    onnx.save(model, temp)
    os.replace(temp, path)


if __name__ == "__main__":
    main(sys.argv)
