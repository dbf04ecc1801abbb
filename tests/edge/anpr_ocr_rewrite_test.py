#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Step 6 of edge/tools/anpr_ocr_rewrite.py (the depthwise 5x5 split) and its check.

Usage: anpr_ocr_rewrite_test.py REWRITE_DIR SOURCE.onnx KEYS.txt
Runs steps 1-5 on the PP-OCRv4 source model, then asserts: the split changes all eight
depthwise 5x5 Convs into 3x3 ones; the check accepts the right split; the check refuses
(exits) two wrong splits: the shared kernel row counted twice, and the pads of the pieces
swapped between rows and columns. Exit 0 when all hold, 1 otherwise.
"""
import sys

sys.path.insert(0, sys.argv[1] if len(sys.argv) == 4 else ".")
import anpr_ocr_rewrite as rw  # noqa: E402

failures = []


def expect(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond:
        failures.append(what)


def twice_counted(w):
    # the r0 = 2 pieces (the last two) get kernel row 2 back: that row is counted twice
    parts = rw.padded_pieces(w)
    for (k, _, _, _), c0 in zip(parts[2:], (0, 2)):
        k[:, :, 0, :] = w[:, :, 2, c0:c0 + 3]
        if c0 == 2:
            k[:, :, 0, 0] = 0  # column 2 stays with the c0 = 0 pieces
    return parts


def pads_swapped(w):
    return [(k, [p[1], p[0], p[3], p[2]], d, b) for k, p, d, b in rw.padded_pieces(w)]


def refused(before, inits, inp, out, pieces):
    new = {}
    after, _ = rw.split_dw5(before, inits, new, pieces)
    try:
        rw.check_split(before, after, {**inits, **new}, inp, out)
    except SystemExit as e:
        print(f"  (refused: {e})")
        return True
    return False


def main(src, keys):
    m, before, inits, out = rw.rewrite(src, keys)
    inp = m.graph.input[0].name
    new = {}
    after, count = rw.split_dw5(before, inits, new)
    expect(count == 8, f"8 depthwise 5x5 Convs split (got {count})")
    inits5 = {**inits, **new}
    left = [n.name for n in after
            if n.op_type == "Conv" and inits5[n.input[1]].shape[2:] == (5, 5)]
    expect(not left, f"no 5x5 Conv left after the split ({left})")
    dp, dl = rw.check_split(before, after, inits5, inp, out)
    expect(dp <= rw.SPLIT_TOL_P and dl <= rw.SPLIT_TOL_LOGIT,
           f"the right split passes the check (max |dp| {dp:.2g}, max |dlogit| {dl:.2g})")
    expect(refused(before, inits, inp, out, twice_counted),
           "the check refuses a split that counts the shared kernel row twice")
    expect(refused(before, inits, inp, out, pads_swapped),
           "the check refuses a split with row and column pads swapped")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[2], sys.argv[3]))
