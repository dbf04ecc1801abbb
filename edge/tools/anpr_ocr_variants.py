#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes variants of the rewritten OCR model (build/edge/anpr_ocr/anpr_ocr.onnx) for the speed
probe edge/tools/anpr_ocr_speed_probe.cpp (docs/notes/issue-17.md, fifth session). Not part of
the build; python3-onnx + numpy only.

Usage: anpr_ocr_variants.py KIND IN.onnx OUT.onnx [activation_scale]
KIND:
  cvquant  HardSigmoid -> Mul/Add/Clip and Sqrt -> Pow(0.5), the same function: OpenCV 4.6's
           Net::quantize() otherwise asks for layer types it does not have (HardSigmoidInt8,
           SqrtInt8) and aborts.
  qdq      QuantizeLinear/DequantizeLinear around every Conv's input and output, weights int8
           per output channel (symmetric) behind a DequantizeLinear; one fixed activation scale
           (speed only, not calibrated); opset 13.
  qop      the same as QLinearConv nodes (QOperator form).
  dw3      every depthwise 5x5 Conv (pads 2) as four depthwise 3x3 Convs with asymmetric pads
           (rows/columns 0-2 and 2-4 of the kernel, the shared row/column in the first) + 3 Adds:
           the same function, OpenCV 4.6 has a fast path for 3x3 depthwise only. Since the sixth
           session this is step 6 of anpr_ocr_rewrite.py (the build's model); dw3 and dwdil
           take a model written with anpr_ocr_rewrite.py --no-split.
  dwdil    the same with symmetric pads and dilations (1,1) (2,2) (2,1) (1,2) (slower: dilated
           depthwise is off the fast path too).
  hswish   every x * Clip(x + 3, 0, 6) / 6 (Add, Clip, Mul, Div) as one HardSwish node (an
           opset-14 operator in an opset-9 graph: OpenCV 4.6 takes it, onnx.checker would not).
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anpr_ocr_rewrite  # noqa: E402  (step 6's split, shared)


attrs = anpr_ocr_rewrite.attrs


def cvquant(g, inits, new, _scale):
    nodes = []
    for n in g.node:
        if n.op_type == "HardSigmoid":
            a = attrs(n)
            p = n.name
            new[p + "_a"] = np.array(a.get("alpha", 0.2), np.float32)
            new[p + "_b"] = np.array(a.get("beta", 0.5), np.float32)
            nodes += [helper.make_node("Mul", [n.input[0], p + "_a"], [p + "_m"], name=p + "_mul"),
                      helper.make_node("Add", [p + "_m", p + "_b"], [p + "_ab"], name=p + "_add"),
                      helper.make_node("Clip", [p + "_ab"], [n.output[0]], name=p + "_clip",
                                       min=0.0, max=1.0)]
        elif n.op_type == "Sqrt":
            new[n.name + "_half"] = np.array(0.5, np.float32)
            nodes.append(helper.make_node("Pow", [n.input[0], n.name + "_half"], list(n.output),
                                          name=n.name))
        else:
            nodes.append(n)
    return nodes


def int8_convs(g, inits, new, scale, qop):
    nodes = []
    for n in g.node:
        if n.op_type != "Conv":
            nodes.append(n)
            continue
        p = n.name
        w = inits[n.input[1]]
        sw = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(1), 1e-8) / 127.0
        new[p + "_wq"] = np.clip(np.round(w / sw[:, None, None, None]), -127, 127).astype(np.int8)
        new[p + "_sw"] = sw.astype(np.float32)
        new[p + "_zw"] = np.zeros(w.shape[0], np.int8)
        for t in ("x", "y"):
            new[f"{p}_s{t}"] = np.array(scale, np.float32)
            new[f"{p}_z{t}"] = np.array(0, np.int8)
        nodes.append(helper.make_node("QuantizeLinear", [n.input[0], p + "_sx", p + "_zx"],
                                      [p + "_xq"], name=p + "_q"))
        if qop:
            ins = [p + "_xq", p + "_sx", p + "_zx", p + "_wq", p + "_sw", p + "_zw", p + "_sy",
                   p + "_zy"]
            if len(n.input) > 2:
                bq = np.round(inits[n.input[2]] / (scale * sw))
                new[p + "_bq"] = np.clip(bq, -2**31, 2**31 - 1).astype(np.int32)
                ins.append(p + "_bq")
            conv = helper.make_node("QLinearConv", ins, [p + "_yq"], name=p)
            conv.attribute.extend(n.attribute)
            nodes.append(conv)
        else:
            nodes.append(helper.make_node("DequantizeLinear", [p + "_xq", p + "_sx", p + "_zx"],
                                          [p + "_xdq"], name=p + "_dq"))
            nodes.append(helper.make_node("DequantizeLinear", [p + "_wq", p + "_sw", p + "_zw"],
                                          [p + "_wdq"], name=p + "_wdeq", axis=0))
            conv = helper.make_node("Conv", [p + "_xdq", p + "_wdq"] + list(n.input[2:]),
                                    [p + "_y"], name=p)
            conv.attribute.extend(n.attribute)
            nodes.append(conv)
            nodes.append(helper.make_node("QuantizeLinear", [p + "_y", p + "_sy", p + "_zy"],
                                          [p + "_yq"], name=p + "_yquant"))
        nodes.append(helper.make_node("DequantizeLinear", [p + "_yq", p + "_sy", p + "_zy"],
                                      [n.output[0]], name=p + "_ydq"))
    return nodes


def dilated_pieces(w):
    """dwdil: a 5x5 kernel as four 3x3 kernels with dilations and symmetric pads."""
    taken = np.zeros((5, 5), bool)
    parts = []
    for dr, dc in ((1, 1), (2, 2), (2, 1), (1, 2)):
        k = np.zeros((w.shape[0], 1, 3, 3), np.float32)
        for i in range(3):
            for j in range(3):
                r, c = 2 + (i - 1) * dr, 2 + (j - 1) * dc
                if not taken[r, c]:
                    k[:, :, i, j] = w[:, :, r, c]
                    taken[r, c] = True
        parts.append((k, [dr, dc, dr, dc], [dr, dc], dr == dc == 1))
    assert taken.all()
    return parts


def split(g, inits, new, pieces):
    nodes, count = anpr_ocr_rewrite.split_dw5(list(g.node), inits, new, pieces)
    if count == 0:
        sys.exit("anpr_ocr_variants: no depthwise 5x5 Conv with pads 2 found (the build's model "
                 "has them split already: write the input with anpr_ocr_rewrite.py --no-split)")
    return nodes


def hswish(g, inits, new, _scale):
    """x * Clip(x + 3, 0, 6) / 6 (hard-swish written out: Add, Clip, Mul, Div) -> HardSwish(x)."""
    prod = {o: n for n in g.node for o in n.output}
    cons = {}
    for n in g.node:
        for x in n.input:
            cons.setdefault(x, []).append(n)

    def const(name, value):
        return name in inits and inits[name].size == 1 and float(inits[name]) == value

    drop, repl = set(), {}
    for n in g.node:
        if n.op_type != "Clip" or attrs(n) != {"min": 0.0, "max": 6.0}:
            continue
        add = prod.get(n.input[0])
        if add is None or add.op_type != "Add" or not const(add.input[1], 3.0):
            continue
        x = add.input[0]
        users = cons.get(n.output[0], [])
        if len(users) != 1 or users[0].op_type != "Mul" or set(users[0].input) != {x, n.output[0]}:
            continue
        mul = users[0]
        divs = cons.get(mul.output[0], [])
        if len(divs) != 1 or divs[0].op_type != "Div" or not const(divs[0].input[1], 6.0):
            continue
        if len(cons.get(add.output[0], [])) != 1:
            continue
        drop.update([id(add), id(n), id(mul)])
        repl[id(divs[0])] = helper.make_node("HardSwish", [x], list(divs[0].output),
                                             name=n.name + "_hswish")
    if not repl:
        sys.exit("anpr_ocr_variants: no hard-swish pattern found")
    return [repl.get(id(n), n) for n in g.node if id(n) not in drop]


def main(kind, src, dst, scale="0.05"):
    kinds = {
        "cvquant": cvquant,
        "qdq": lambda g, i, n, s: int8_convs(g, i, n, s, False),
        "qop": lambda g, i, n, s: int8_convs(g, i, n, s, True),
        "dw3": lambda g, i, n, s: split(g, i, n, anpr_ocr_rewrite.padded_pieces),
        "dwdil": lambda g, i, n, s: split(g, i, n, dilated_pieces),
        "hswish": hswish,
    }
    if kind not in kinds:
        sys.exit(f"anpr_ocr_variants: unknown KIND {kind!r}; one of {', '.join(kinds)}")
    m = onnx.load(src)
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    new = {}
    nodes = kinds[kind](g, inits, new, float(scale))
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in new.items())
    if kind in ("qdq", "qop"):
        for o in m.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = 13  # per-axis DequantizeLinear
    onnx.save(m, dst)
    print(f"anpr_ocr_variants: {dst}: {kind}, {len(nodes)} nodes")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(*sys.argv[1:])
