"""A tiny external objective for studies/command_example.yaml (any language would do).

nas runs it once per trial: `python quadratic.py --x X --y Y`. It prints one JSON line per
step (intermediate values: `{"step": s, "loss": ...}`) and, last, the result `{"loss": ...}`.
"""

import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--y", type=float, required=True)
args = parser.parse_args()

target = (args.x - 1.0) ** 2 + (args.y + 0.5) ** 2
for step in range(5):
    # A curve that approaches the target from above, like a training loss.
    print(json.dumps({"step": step, "loss": target + 1.0 / (step + 1)}), flush=True)
print(json.dumps({"loss": target, "distance": target**0.5}))
