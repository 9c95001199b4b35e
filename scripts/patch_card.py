#!/usr/bin/python3
"""Sets fields of the terraseg model card inside an ONNX file, in place (atomically).

    /usr/bin/python3 scripts/patch_card.py MODEL.onnx key=JSON [key=JSON ...]   (Debian python3-onnx)
    e.g. scripts/patch_card.py m.onnx architecture='"espnet"' ignore_ids='[11]' notes='""'

Values are JSON. Used for cards of models exported before a card field existed; new exports get
these fields from the training config (configs/train/*.yaml, section card).
"""
import json
import os
import sys

import onnx

KEY = "terraseg.model_card"


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path = argv[1]
    model = onnx.load(path)
    entries = {p.key: p for p in model.metadata_props}
    if KEY not in entries:
        sys.exit(f"{path}: no terraseg model card to patch")
    card = json.loads(entries[KEY].value)
    for assignment in argv[2:]:
        key, _, value = assignment.partition("=")
        card[key] = json.loads(value)
    entries[KEY].value = json.dumps(card, indent=2)
    temporary = path + ".tmp"
    onnx.save(model, temporary)
    os.replace(temporary, path)


if __name__ == "__main__":
    main(sys.argv)
