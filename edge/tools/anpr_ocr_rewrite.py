#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Rewrites PaddleOCR's PP-OCRv4 recognition ONNX graph so that OpenCV 4.6's DNN module runs it.

Usage: anpr_ocr_rewrite.py [--no-split] IN.onnx KEYS.txt OUT.onnx OUT_KEYS.txt

Edits (docs/anpr.md, "Real-plate recognizer"):
 1. input fixed to 1x3x48x320;
 2. Constant nodes become initializers;
 3. the six Reshape targets computed from Shape become constants, dead nodes are dropped;
 4. each LayerNorm's affine Mul/Add (120-element gamma/beta, which OpenCV 4.6 applies on the
    wrong axis) is folded into the next MatMul (weights x gamma, bias + beta.W) or 1x1 Conv;
 5. the last layer keeps only CTC blank + the plate alphabet (GA 36-2018 characters);
 6. each depthwise 5x5 Conv (pads 2) becomes four depthwise 3x3 Convs (kernel rows/columns 0-2
    and 2-4, the shared row/column counted once, asymmetric pads) + 3 Adds: the same function,
    and OpenCV 4.6 has a fast path for 3x3 depthwise convolutions only (the network runs in
    0.71-0.76x the time, docs/notes/issue-17.md). Checked here: the graph before and after
    step 6 is evaluated in numpy on CHECK_INPUTS fixed inputs and must agree within
    SPLIT_TOL_P on the output probabilities and SPLIT_TOL_LOGIT on the logits before the
    output Softmax, else the script fails (and so the build). --no-split skips step 6 (the
    model as built before, for measuring).
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


SPLIT_TOL_P = 1e-4  # largest |difference| of an output probability allowed by the step 6 check
SPLIT_TOL_LOGIT = 1e-3  # the same for a logit (the output Softmax's input)
CHECK_INPUTS = 3


def fail(msg):
    sys.exit("anpr_ocr_rewrite: " + msg)


def attrs(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def padded_pieces(w):
    """Step 6's pieces of a 5x5 kernel: (3x3 kernel, pads, dilations, carries the bias)."""
    parts = []
    for r0 in (0, 2):
        for c0 in (0, 2):
            k = w[:, :, r0:r0 + 3, c0:c0 + 3].astype(np.float32)
            if r0 == 2:
                k[:, :, 0, :] = 0  # row 2 of the kernel belongs to the r0 = 0 pieces
            if c0 == 2:
                k[:, :, :, 0] = 0  # column 2 to the c0 = 0 pieces
            parts.append((k, [2 - r0, 2 - c0, r0, c0], [1, 1], r0 == c0 == 0))
    return parts


def split_dw5(nodes, inits, new, pieces=padded_pieces):
    """Step 6: every depthwise 5x5 Conv with pads 2 as the sum of pieces(weights) (3x3 Convs).
    New initializers go to new. Returns (nodes, how many Convs were split)."""
    out_nodes = []
    count = 0
    for n in nodes:
        a = attrs(n)
        if (n.op_type != "Conv" or a.get("group", 1) == 1
                or inits[n.input[1]].shape[2:] != (5, 5) or a.get("pads") != [2, 2, 2, 2]
                or a.get("dilations", [1, 1]) != [1, 1]):
            out_nodes.append(n)
            continue
        count += 1
        outs = []
        for i, (k, pads, dil, with_bias) in enumerate(pieces(inits[n.input[1]])):
            p = f"{n.name}_dw3_{i}"
            new[p + "_w"] = k
            ins = [n.input[0], p + "_w"] + (list(n.input[2:3]) if with_bias else [])
            out_nodes.append(helper.make_node("Conv", ins, [p + "_y"], name=p, group=a["group"],
                                              kernel_shape=[3, 3], strides=a.get("strides", [1, 1]),
                                              pads=pads, dilations=dil))
            outs.append(p + "_y")
        if len(outs) != 4:
            fail(f"{n.name}: {len(outs)} pieces, expected 4")
        out_nodes.append(helper.make_node("Add", outs[0:2], [n.name + "_s1"], name=n.name + "_s1"))
        out_nodes.append(helper.make_node("Add", outs[2:4], [n.name + "_s2"], name=n.name + "_s2"))
        out_nodes.append(helper.make_node("Add", [n.name + "_s1", n.name + "_s2"], [n.output[0]],
                                          name=n.name + "_sum"))
    return out_nodes, count


def conv(x, w, b, a):
    """ONNX Conv (2-D, NCHW) in numpy: pads [top, left, bottom, right], strides, dilations, group."""
    top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    g = a.get("group", 1)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    ho = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    xg = xp.reshape(n, g, cg, xp.shape[2], xp.shape[3])
    wg = w.reshape(g, m // g, cg, kh, kw)
    y = np.zeros((n, g, m // g, ho, wo), np.float32)
    for i in range(kh):
        for j in range(kw):
            tap = xg[:, :, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                     j * dw:j * dw + sw * (wo - 1) + 1:sw]
            if cg == 1 and m // g == 1:
                y += tap * wg[None, :, :, 0, i, j, None, None]
            else:
                y += np.einsum("ngchw,gmc->ngmhw", tap, wg[:, :, :, i, j], optimize=True)
    y = y.reshape(n, m, ho, wo)
    return y if b is None else y + b[None, :, None, None]


def softmax(x, axis):
    # opset < 13: the input is seen as 2-D [prod(dims before axis), prod(dims from axis)]
    flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def evaluate(nodes, inits, inp_name, x, want):
    """Runs the graph's nodes in numpy (the operators of this network, opset 9) on input x;
    returns the values named in want."""
    v = dict(inits)
    v[inp_name] = x
    for n in nodes:
        a = attrs(n)
        i = [v[k] for k in n.input]
        t = n.op_type
        if t == "Conv":
            r = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif t in ("Add", "Sub", "Mul", "Div", "Pow"):
            r = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                 "Pow": np.power}[t](i[0], i[1])
        elif t == "MatMul":
            r = np.matmul(i[0], i[1])
        elif t == "Clip":
            r = np.clip(i[0], a.get("min", -np.inf), a.get("max", np.inf))
        elif t == "Relu":
            r = np.maximum(i[0], 0)
        elif t == "Sigmoid":
            r = 0.5 * (1 + np.tanh(0.5 * i[0]))  # 1 / (1 + e^-x) without overflow
        elif t == "HardSigmoid":
            r = np.clip(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
        elif t == "Sqrt":
            r = np.sqrt(i[0])
        elif t == "BatchNormalization":
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            r = ((i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5))
                 * i[1].reshape(sh) + i[2].reshape(sh))
        elif t == "ReduceMean":
            r = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif t == "GlobalAveragePool":
            r = i[0].mean(axis=(2, 3), keepdims=True)
        elif t == "AveragePool":
            if any(a.get("pads", [0, 0, 0, 0])):
                fail(f"{n.name}: padded AveragePool not evaluated by the check")
            kh, kw = a["kernel_shape"]
            sh, sw = a.get("strides", [1, 1])
            ho, wo = (i[0].shape[2] - kh) // sh + 1, (i[0].shape[3] - kw) // sw + 1
            r = sum(i[0][:, :, p:p + sh * (ho - 1) + 1:sh, q:q + sw * (wo - 1) + 1:sw]
                    for p in range(kh) for q in range(kw)) / (kh * kw)
        elif t == "Reshape":
            r = i[0].reshape([d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1])])
        elif t == "Transpose":
            r = np.transpose(i[0], a.get("perm"))
        elif t == "Squeeze":
            r = np.squeeze(i[0], axis=tuple(a["axes"]))
        elif t == "Slice":
            sl = [slice(None)] * i[0].ndim
            for ax, s0, e0 in zip(a["axes"], a["starts"], a["ends"]):
                sl[ax] = slice(s0, e0)
            r = i[0][tuple(sl)]
        elif t == "Concat":
            r = np.concatenate(i, axis=a["axis"])
        elif t == "Softmax":
            r = softmax(i[0], a.get("axis", 1) % i[0].ndim)
        else:
            fail(f"the step 6 check cannot evaluate {t} ({n.name})")
        v[n.output[0]] = np.asarray(r, np.float32)
    return [v[k] for k in want]


def check_inputs():
    """CHECK_INPUTS fixed 1x3x48xWIDTH inputs in the reader's range [-1, 1], zero padded on the
    right as OcrRecognizer pads a short crop: noise over the full width; a plate-like pattern
    (a dark blue ground, seven light character bars with gaps, 260 px wide); noise 100 px wide."""
    rng = np.random.default_rng(20261208)
    full = rng.uniform(-1, 1, (1, 3, 48, WIDTH)).astype(np.float32)
    plate = np.zeros((1, 3, 48, WIDTH), np.float32)
    plate[:, :, :, :260] = np.array([0.2, -0.5, -0.8], np.float32)[None, :, None, None]
    for c in range(7):
        x0 = 12 + 35 * c
        plate[:, :, 8:40, x0:x0 + 7] = 0.9
        plate[:, :, 8:12, x0:x0 + 22] = 0.9
        plate[:, :, 22 + c % 3:26 + c % 3, x0:x0 + 20] = 0.9
    short = np.zeros((1, 3, 48, WIDTH), np.float32)
    short[:, :, :, :100] = rng.uniform(-1, 1, (1, 3, 48, 100))
    return [full, plate, short][:CHECK_INPUTS]


def check_split(before, after, inits, inp_name, out_name):
    """Step 6's check: the graph after the split gives the outputs of the graph before."""
    sm = next(n for n in before if n.op_type == "Softmax" and n.output[0] == out_name)
    want = [out_name, sm.input[0]]
    dp = dl = 0.0
    for k, x in enumerate(check_inputs()):
        p0, l0 = evaluate(before, inits, inp_name, x, want)
        p1, l1 = evaluate(after, inits, inp_name, x, want)
        if not (np.isfinite(p1).all() and np.isfinite(l1).all()):
            fail(f"step 6 check: input {k}: the split graph gives non-finite outputs")
        dp = max(dp, float(np.abs(p1 - p0).max()))
        dl = max(dl, float(np.abs(l1 - l0).max()))
    if dp > SPLIT_TOL_P or dl > SPLIT_TOL_LOGIT:
        fail(f"step 6 check: the split graph differs from the graph before it by up to {dp:.3g} "
             f"in a probability (tolerance {SPLIT_TOL_P:g}) and {dl:.3g} in a logit (tolerance "
             f"{SPLIT_TOL_LOGIT:g}) on {CHECK_INPUTS} inputs")
    return dp, dl


def rewrite(src, keys_in):
    """Steps 1-5. Returns the model, its live nodes in order, the initializers by name (a
    superset of what the nodes use) and the output's name."""
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
    # drop dead nodes (unused initializers are left out when saving)
    live = {out}
    alive = []
    for n in reversed(keep):
        if any(o in live for o in n.output):
            alive.append(n)
            live.update(n.input)
    alive.reverse()
    return m, alive, inits, out


def main(src, keys_in, dst, keys_out, split=True):
    m, alive, inits, out = rewrite(src, keys_in)
    g = m.graph
    live = {out}.union(*(n.input for n in alive))
    # 6. depthwise 5x5 -> four 3x3 + Adds, checked against the graph before
    note = ""
    if split:
        new = {}
        split_nodes, count = split_dw5(alive, inits, new)
        if count != 8:
            fail(f"split {count} depthwise 5x5 Convs, expected 8")
        dp, dl = check_split(alive, split_nodes, {**inits, **new}, g.input[0].name, out)
        inits.update(new)
        alive = split_nodes
        live = {out}.union(*(n.input for n in alive))  # the 5x5 weights are dead now
        note = (f", {count} depthwise 5x5 Convs split (check on {CHECK_INPUTS} inputs: "
                f"max |dp| {dp:.2g}, max |dlogit| {dl:.2g})")
    del g.node[:]
    g.node.extend(alive)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in inits.items() if k in live)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    with open(keys_out, "w", encoding="utf-8") as f:
        f.write("\n".join(PLATE_CHARS) + "\n")
    print(f"anpr_ocr_rewrite: {dst}: {len(alive)} nodes, {len(PLATE_CHARS) + 1} classes{note}")


if __name__ == "__main__":
    args = sys.argv[1:]
    no_split = args[:1] == ["--no-split"]
    if no_split:
        args = args[1:]
    if len(args) != 4 or any(a.startswith("--") for a in args):
        sys.exit(__doc__)
    main(*args, split=not no_split)
