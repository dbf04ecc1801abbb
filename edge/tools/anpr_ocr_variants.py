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
           the same function, OpenCV 4.6 has a fast path for 3x3 depthwise only.
  dwdil    the same with symmetric pads and dilations (1,1) (2,2) (2,1) (1,2) (slower: dilated
           depthwise is off the fast path too).
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def attrs(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


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


def split_dw5(g, inits, new, dilated):
    nodes = []
    count = 0
    for n in g.node:
        a = attrs(n)
        if (n.op_type != "Conv" or a.get("group", 1) == 1
                or inits[n.input[1]].shape[2:] != (5, 5) or a.get("pads") != [2, 2, 2, 2]):
            nodes.append(n)
            continue
        count += 1
        w = inits[n.input[1]]
        parts = []
        if dilated:
            taken = np.zeros((5, 5), bool)
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
        else:
            for r0 in (0, 2):
                for c0 in (0, 2):
                    k = w[:, :, r0:r0 + 3, c0:c0 + 3].astype(np.float32)
                    if r0 == 2:
                        k[:, :, 0, :] = 0  # row 2 of the kernel belongs to the r0 = 0 block
                    if c0 == 2:
                        k[:, :, :, 0] = 0
                    parts.append((k, [2 - r0, 2 - c0, r0, c0], [1, 1], r0 == c0 == 0))
        outs = []
        for i, (k, pads, dil, with_bias) in enumerate(parts):
            p = f"{n.name}_dw3_{i}"
            new[p + "_w"] = k
            ins = [n.input[0], p + "_w"] + (list(n.input[2:3]) if with_bias else [])
            nodes.append(helper.make_node("Conv", ins, [p + "_y"], name=p, group=a["group"],
                                          kernel_shape=[3, 3], strides=a.get("strides", [1, 1]),
                                          pads=pads, dilations=dil))
            outs.append(p + "_y")
        nodes.append(helper.make_node("Add", outs[0:2], [n.name + "_s1"], name=n.name + "_s1"))
        nodes.append(helper.make_node("Add", outs[2:4], [n.name + "_s2"], name=n.name + "_s2"))
        nodes.append(helper.make_node("Add", [n.name + "_s1", n.name + "_s2"], [n.output[0]],
                                      name=n.name + "_sum"))
    if count == 0:
        sys.exit("anpr_ocr_variants: no depthwise 5x5 Conv with pads 2 found")
    return nodes


def main(kind, src, dst, scale="0.05"):
    kinds = {
        "cvquant": cvquant,
        "qdq": lambda g, i, n, s: int8_convs(g, i, n, s, False),
        "qop": lambda g, i, n, s: int8_convs(g, i, n, s, True),
        "dw3": lambda g, i, n, s: split_dw5(g, i, n, False),
        "dwdil": lambda g, i, n, s: split_dw5(g, i, n, True),
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
