#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Rehearsal of a reference-truck calibration with `wim-sim serve` as the amplifier
# (docs/calibration.md): builds runs.json for `wim-edge calibrate` from recorded passes.
# The reference truck of each pass is its first 3-axle vehicle (as `calibrate` takes it),
# found in wim-sim's truth file by its axle spacings; its static axle loads come from there.
# usage: sim-reference-runs.py TRUTH.jsonl RUNS.json PASS.weigh.jsonl...
#   (PASS.weigh.jsonl = `wim-edge weigh` of PASS.csv, beside it)
import json
import os
import sys

truth_path, runs_path, weighed = sys.argv[1], sys.argv[2], sys.argv[3:]
truth = [json.loads(l) for l in open(truth_path) if l.strip()]
runs_dir = os.path.dirname(os.path.abspath(runs_path))
runs = []
for w in sorted(weighed):
    vs = [json.loads(l) for l in open(w) if l.strip()]
    vs = [v for v in vs if len(v['axle_loads_kg']) == 3]
    if not vs:
        print(f'{w}: no 3-axle vehicle: left out', file=sys.stderr)
        continue
    v = vs[0]
    t = min(truth, key=lambda t: sum((a - b) ** 2 for a, b in
                                     zip(t['axle_spacings_m'], v['axle_spacings_m'])))
    err_m = max(abs(a - b) for a, b in zip(t['axle_spacings_m'], v['axle_spacings_m']))
    print(f"{w}: truck {t['id']} at {v['speed_kmh']:.0f} km/h, spacings within {err_m:.3f} m, "
          f"weighed {v['gross_kg']:.0f} kg, static {t['gross_kg']} kg "
          f"({100 * (v['gross_kg'] / t['gross_kg'] - 1):+.1f} %)")
    rec = os.path.abspath(w[:-len('.weigh.jsonl')] + '.csv')
    runs.append({'recording': os.path.relpath(rec, runs_dir),
                 'static_axle_loads_kg': t['axle_loads_kg']})
with open(runs_path, 'w') as f:
    json.dump({'runs': runs}, f, indent=1)
