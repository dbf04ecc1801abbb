#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Rewrites PaddleOCR's PP-OCRv4 recognition ONNX graph so that OpenCV 4.6's DNN module runs it.

Usage: anpr_ocr_rewrite.py IN.onnx KEYS.txt OUT.onnx OUT_KEYS.txt

Edits (docs/anpr.md, "Real-plate recognizer"):
 1. input fixed to 1x3x48x320;
 2. Constant nodes become initializers;
 3. the six Reshape targets computed from Shape become constants, dead nodes are dropped;
 4. each LayerNorm's affine Mul/Add (120-element gamma/beta, which OpenCV 4.6 applies on the
    wrong axis) is folded into the next MatMul (weights x gamma, bias + beta.W) or 1x1 Conv;
 5. the last layer keeps only CTC blank + the plate alphabet (GA 36-2018 characters).
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

WIDTH = 320
RESHAPES = [[1, 120, 40], [1, 40, 3, 8, 15], [1, 40, 120], [1, 40, 3, 8, 15], [1, 40, 120],
            [1, 1, 40, 120]]
PLATE_CHARS = ("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
               "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789警学挂港澳使领")


def fail(msg):
    sys.exit("anpr_ocr_rewrite: " + msg)


def main(src, keys_in, dst, keys_out):
    m = onnx.load(src)
    g = m.graph
    if len(g.input) != 1 or len(g.output) != 1:
        fail(f"{src}: expected one input and one output")
    # 1. fixed input
    dims = g.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, [1, 3, 48, WIDTH]):
        d.ClearField("dim_param")
        d.dim_value = v
    # 2. Constants -> initializers
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    keep = []
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        else:
            keep.append(n)
    # 3. Reshape targets
    reshapes = [n for n in keep if n.op_type == "Reshape"]
    if len(reshapes) != len(RESHAPES):
        fail(f"{src}: {len(reshapes)} Reshape nodes, expected {len(RESHAPES)} (not PP-OCRv4 rec?)")
    for i, (n, shape) in enumerate(zip(reshapes, RESHAPES)):
        name = f"anpr_reshape_{i}"
        inits[name] = np.array(shape, dtype=np.int64)
        n.input[1] = name
    # 4. fold the LayerNorm affine
    cons = {}
    for n in keep:
        for x in n.input:
            cons.setdefault(x, []).append(n)
    prod = {o: n for n in keep for o in n.output}
    removed = set()
    folded = 0
    for n in list(keep):
        if n.op_type != "Div" or prod.get(n.input[1]) is None or prod[n.input[1]].op_type != "Sqrt":
            continue
        mul = cons[n.output[0]][0]
        add = cons[mul.output[0]][0]
        if mul.op_type != "Mul" or add.op_type != "Add":
            fail("LayerNorm without Mul/Add affine")
        gamma = next(inits[x] for x in mul.input if x in inits).astype(np.float32)
        beta = next(inits[x] for x in add.input if x in inits).astype(np.float32)
        # consumers of the affine output, through Reshape/Transpose, to a MatMul or a Conv
        x = add.output[0]
        while True:
            users = [u for u in cons.get(x, []) if u.op_type != "Shape"]
            if len(users) != 1:
                fail(f"LayerNorm output {x} has {len(users)} users")
            u = users[0]
            if u.op_type in ("MatMul", "Conv"):
                break
            if u.op_type not in ("Reshape", "Transpose"):
                fail(f"LayerNorm output goes to {u.op_type}")
            x = u.output[0]
        if u.op_type == "MatMul":
            w = inits[u.input[1]]
            bias_add = cons[u.output[0]][0]
            bname = next(b for b in bias_add.input if b in inits)
            inits[bname] = (inits[bname] + beta @ w).astype(np.float32)
            inits[u.input[1]] = (gamma[:, None] * w).astype(np.float32)
        else:
            w = inits[u.input[1]]  # [out, 120, 1, 1]
            if w.shape[1:] != (gamma.shape[0], 1, 1):
                fail(f"Conv after the last LayerNorm has weights {w.shape}")
            bias = inits[u.input[2]] if len(u.input) > 2 else np.zeros(w.shape[0], np.float32)
            bias = bias + w[:, :, 0, 0] @ beta
            inits[u.input[1]] = (w * gamma[None, :, None, None]).astype(np.float32)
            bname = u.name + "_anpr_bias"
            inits[bname] = bias.astype(np.float32)
            if len(u.input) > 2:
                u.input[2] = bname
            else:
                u.input.append(bname)
        # bypass the Mul and the Add
        src_name = n.output[0]
        for c in keep:
            for k, inp in enumerate(c.input):
                if inp == add.output[0]:
                    c.input[k] = src_name
        removed.update([id(mul), id(add)])
        folded += 1
    if folded != 5:
        fail(f"folded {folded} LayerNorms, expected 5")
    keep = [n for n in keep if id(n) not in removed]
    # 5. alphabet: keys file lines are the classes 1..N (0 is the CTC blank)
    keys = open(keys_in, encoding="utf-8").read().split("\n")
    if keys and keys[-1] == "":
        keys.pop()
    idx = {}
    for i, k in enumerate(keys):
        idx.setdefault(k, i + 1)
    missing = [c for c in PLATE_CHARS if c not in idx]
    if missing:
        fail(f"{keys_in}: no class for {''.join(missing)}")
    chosen = [0] + [idx[c] for c in PLATE_CHARS]
    # the last MatMul + Add before the output Softmax
    out = g.output[0].name
    prod_after = {o: nn for nn in keep for o in nn.output}
    sm = prod_after[out]
    if sm.op_type != "Softmax":
        fail("output is not a Softmax")
    badd = prod_after[sm.input[0]]
    bmm = prod_after[next(i for i in badd.input if i not in inits)]
    bname = next(i for i in badd.input if i in inits)
    if bmm.op_type != "MatMul" or inits[bmm.input[1]].shape[1] != len(keys) + 2:
        fail(f"last layer is not a MatMul to {len(keys) + 2} classes")
    inits[bmm.input[1]] = inits[bmm.input[1]][:, chosen]
    inits[bname] = inits[bname][chosen]
    odims = g.output[0].type.tensor_type.shape.dim
    for d, v in zip(odims, [1, WIDTH // 8, len(chosen)]):
        d.ClearField("dim_param")
        d.dim_value = v
    # drop dead nodes and unused initializers
    live = {out}
    alive = []
    for n in reversed(keep):
        if any(o in live for o in n.output):
            alive.append(n)
            live.update(n.input)
    alive.reverse()
    del g.node[:]
    g.node.extend(alive)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items() if k in live)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    with open(keys_out, "w", encoding="utf-8") as f:
        f.write("\n".join(PLATE_CHARS) + "\n")
    print(f"anpr_ocr_rewrite: {dst}: {len(alive)} nodes, {len(chosen)} classes")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
