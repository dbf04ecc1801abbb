#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Builds the real plate sets of issue 17 (docs/anpr.md "Real data sets") from public
# repositories brought here as git directories (the search tool's `fetch`), into OUT/:
#   lyl-valid/  lyl8213/Plate_Recognition-LPRnet valid/: 136x36 crops, 146 after dropping
#               the byte-identical copies whose names have a space; text from the file name
#               (the repository's own province-code table, LPRtf3.py), colour by hue share
#   lyl-train/  the same repository's train/, only the 11 province codes seen in valid/
#   ccpd/       CCPD whole photos (720x1160), truth from the CCPD file name: ZhijuCen/
#               chinese-plate-recognition-ccpd-remaster test_suite/ccpd_base + HuKai97/
#               YOLOv5-LPRNet-Licence-Recognition demo/images (7 indices blue, 8 green)
#   ccpd-hard/  CCPD photos of the hard subsets (blur, challenge, db, fn, rotate, tilt,
#               weather) in any commit of the repositories given with --hard; subset from a
#               ccpd_<subset> folder or CCPD's own split lists (--ccpd-splits:
#               detectRecog/CCPD); the condition column from the subset (SUBSET_CONDITION)
#   easypr/     liuruoze/EasyPR resources/image/general_test (GDTS): photos named by their
#               plate; colour, box and rotation from its GroundTruth_others.xml; groups
#               easypr_tilt (|rotation| >= 10 deg), easypr_small (plate < 80 px wide) and,
#               tagged by eye (EASYPR_BY_EYE), easypr_night / easypr_dusk: condition dusk;
#               plus its former extreme_test (history): easypr_dirty (dirt), easypr_angle
# Each folder gets truth.tsv (file, colour, condition, text; tab-separated, as
# hw/src/camera/plate_set.cpp read_plate_truth reads it) and truth-<group>.tsv per colour and
# per condition and group present, so the frame bench can score each group on its own.
# Plates are personal data: OUT must be under /tmp; nothing built here is committed.
# Never feed it sirius-ai/LPRNet_Pytorch (its data/test is the held-out set).
#
# usage: scripts/anpr-real-sets.py OUT [--lyl GITDIR] [--ccpd GITDIR...] [--easypr GITDIR]
#                                  [--hard GITDIR... --ccpd-splits GITDIR] [--check]
# --check: exit 1 unless the counts are the ones the issue-17 notes give (lyl-valid 146:
# 114 blue / 32 yellow; lyl-train 735: 594 / 141; ccpd 25: 20 blue / 5 green).
# Standard library and numpy (Debian python3-numpy, a dependency of python3-onnx that
# scripts/install-deps.sh installs); the JPEG crops are decoded by the small baseline
# decoder below (no OpenCV python binding is installed).
import argparse
import collections
import hashlib
import math
import os
import re
import subprocess
import sys

import numpy as np

# lyl8213 LPRtf3.py `dict`: the file-name prefix of each province
LYL_PROVINCE = {
    "A01": "京", "A02": "津", "A03": "沪", "B02": "蒙", "S01": "皖", "S02": "闽", "S03": "粤",
    "S04": "甘", "S05": "贵", "S06": "鄂", "S07": "冀", "S08": "黑", "S09": "湘", "S10": "豫",
    "S12": "吉", "S13": "苏", "S14": "赣", "S15": "辽", "S17": "川", "S18": "鲁", "S22": "浙",
    "S30": "渝", "S31": "晋", "S32": "桂", "S33": "琼", "S34": "云", "S35": "藏", "S36": "陕",
    "S37": "青", "S38": "宁", "S39": "新"}

# CCPD (detectRecog/CCPD README): the index tables of the file name's plate field
CCPD_PROVINCES = ["皖", "沪", "津", "渝", "冀", "晋", "蒙", "辽", "吉", "黑", "苏", "浙", "京", "闽",
                  "赣", "鲁", "豫", "鄂", "湘", "粤", "桂", "琼", "川", "贵", "云", "藏", "陕", "甘",
                  "青", "宁", "新", "警", "学", "O"]
CCPD_ALPHABETS = list("ABCDEFGHJKLMNPQRSTUVWXYZ") + ["O"]
CCPD_ADS = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") + ["O"]

# CCPD subset -> the nearest condition that read_plate_truth accepts (plate_render.hpp
# kConditions: clear_day, dusk, night_ir, motion_blur, glare, dirt). CCPD's own words
# (Xu et al., ECCV 2018): base ordinary; db dark or uneven light (dusk); blur camera
# shake (motion_blur); fn far from or near the camera (clear_day: distance, not weather);
# rotate/tilt large rotation, tilt (clear_day: geometry, no condition of ours); weather
# rain, snow, fog (dirt: the nearest occlusion we render); challenge the hardest mixed
# (glare is not implied; clear_day as the truth file needs one). The subset itself stays
# in the file name (ccpd_<subset>__<name>) and in truth-<subset>.tsv.
SUBSET_CONDITION = {
    "base": "clear_day", "db": "dusk", "blur": "motion_blur", "fn": "clear_day",
    "rotate": "clear_day", "tilt": "clear_day", "weather": "dirt", "challenge": "clear_day",
    "green": "clear_day", "np": None}

# ---------------------------------------------------------------- baseline JPEG decoder
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
    20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])
_K = np.arange(8)
_C = np.array([[(np.sqrt(0.5) if u == 0 else 1.0) * np.cos((2 * x + 1) * u * np.pi / 16) / 2
                for x in _K] for u in _K])  # IDCT basis: block = C.T @ F @ C


class JpegError(Exception):
    pass


def decode_jpeg(data, dc_only=False):
    """Baseline (SOF0/SOF1) Huffman JPEG -> HxWx3 uint8 RGB (grey as 3 channels).
    dc_only: every 8x8 block filled with its mean (no inverse DCT: faster, for statistics)."""
    pos, qt, ht, comps, restart = 2, {}, {}, [], 0
    if data[:2] != b"\xff\xd8":
        raise JpegError("not a JPEG")
    width = height = 0
    while pos < len(data):
        if data[pos] != 0xFF:
            raise JpegError("bad marker")
        marker = data[pos + 1]
        pos += 2
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length = int.from_bytes(data[pos:pos + 2], "big")
        seg = data[pos + 2:pos + length]
        if marker == 0xDB:
            i = 0
            while i < len(seg):
                prec, tid = seg[i] >> 4, seg[i] & 15
                n = 128 if prec else 64
                vals = seg[i + 1:i + 1 + n]
                q = (np.frombuffer(vals, ">u2") if prec else np.frombuffer(vals, "u1"))
                table = np.zeros(64)
                table[ZIGZAG] = q
                qt[tid] = table.reshape(8, 8)
                i += 1 + n
        elif marker in (0xC0, 0xC1):
            height, width = int.from_bytes(seg[1:3], "big"), int.from_bytes(seg[3:5], "big")
            for c in range(seg[5]):
                cid, hv, tq = seg[6 + 3 * c:9 + 3 * c]
                comps.append({"id": cid, "h": hv >> 4, "v": hv & 15, "tq": tq})
        elif 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            raise JpegError("not baseline (SOF%d)" % (marker - 0xC0))
        elif marker == 0xC4:
            i = 0
            while i < len(seg):
                tc_th = seg[i]
                counts = seg[i + 1:i + 17]
                syms = seg[i + 17:i + 17 + sum(counts)]
                table, code, k = {}, 0, 0
                for ln in range(1, 17):
                    for _ in range(counts[ln - 1]):
                        table[(ln, code)] = syms[k]
                        code += 1
                        k += 1
                    code <<= 1
                ht[tc_th] = table
                i += 17 + sum(counts)
        elif marker == 0xDD:
            restart = int.from_bytes(seg[0:2], "big")
        elif marker == 0xDA:
            ns = seg[0]
            order = []
            for c in range(ns):
                cid, tdta = seg[1 + 2 * c], seg[2 + 2 * c]
                comp = next(x for x in comps if x["id"] == cid)
                comp["td"], comp["ta"] = tdta >> 4, tdta & 15
                order.append(comp)
            return _scan(data, pos + length, order, comps, qt, ht, restart, width, height,
                         dc_only)
        elif marker == 0xD9:
            break
        pos += length
    raise JpegError("no scan")


def _scan(data, pos, order, comps, qt, ht, restart, width, height, dc_only):
    # entropy-coded data up to the next non-RST marker, stuffing removed, RSTs split
    end = pos
    while True:
        end = data.index(b"\xff", end)
        nxt = data[end + 1]
        if nxt == 0 or 0xD0 <= nxt <= 0xD7:
            end += 2
            continue
        break
    raw = data[pos:end]
    chunks = re.split(rb"\xff[\xd0-\xd7]", raw)
    chunks = [c.replace(b"\xff\x00", b"\xff") for c in chunks]
    hmax, vmax = max(c["h"] for c in comps), max(c["v"] for c in comps)
    mcux, mcuy = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    planes = {c["id"]: np.zeros((mcuy * c["v"] * 8, mcux * c["h"] * 8)) for c in comps}
    total = mcux * mcuy
    per_chunk = restart if restart else total
    m = 0
    for chunk in chunks:
        bits = "".join(format(b, "08b") for b in chunk)
        bp = 0
        pred = {c["id"]: 0 for c in order}

        def huff(table):
            nonlocal bp
            code = 0
            for ln in range(1, 17):
                code = (code << 1) | (bits[bp] == "1")
                bp += 1
                sym = table.get((ln, code))
                if sym is not None:
                    return sym
            raise JpegError("bad Huffman code")

        def receive(s):
            nonlocal bp
            if s == 0:
                return 0
            v = int(bits[bp:bp + s], 2)
            bp += s
            return v if v >= 1 << (s - 1) else v - (1 << s) + 1

        for _ in range(per_chunk):
            if m >= total:
                break
            my, mx = divmod(m, mcux)
            for c in order:
                for by in range(c["v"]):
                    for bx in range(c["h"]):
                        coef = np.zeros(64)
                        t = huff(ht[c["td"]])
                        pred[c["id"]] += receive(t)
                        coef[0] = pred[c["id"]]
                        k = 1
                        while k < 64:
                            rs = huff(ht[16 | c["ta"]])
                            r, s = rs >> 4, rs & 15
                            if s == 0:
                                if r != 15:
                                    break
                                k += 16
                                continue
                            k += r
                            coef[ZIGZAG[k]] = receive(s)
                            k += 1
                        if dc_only:  # the orthonormal IDCT's mean is F(0,0) / 8
                            block = coef[0] * qt[c["tq"]][0, 0] / 8
                        else:
                            block = _C.T @ (coef.reshape(8, 8) * qt[c["tq"]]) @ _C
                        y0, x0 = (my * c["v"] + by) * 8, (mx * c["h"] + bx) * 8
                        planes[c["id"]][y0:y0 + 8, x0:x0 + 8] = block + 128
            m += 1
    full = []
    for c in comps:
        p = planes[c["id"]]
        p = np.repeat(np.repeat(p, vmax // c["v"], 0), hmax // c["h"], 1)
        full.append(p[:height, :width])
    if len(full) == 1:
        return np.clip(np.stack([full[0]] * 3, -1), 0, 255).round().astype(np.uint8)
    y, cb, cr = full[0], full[1] - 128, full[2] - 128
    rgb = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)
    return np.clip(rgb, 0, 255).round().astype(np.uint8)


# ---------------------------------------------------------------- colour by hue share
SAT_MIN = 80   # [0-255] a pixel counts as paint when its HSV saturation is at least this
VAL_MIN = 50   # [0-255] ... and its value (brightness) at least this
BLUE_HUE = (95, 130)  # [OpenCV half-degrees, 0-180] blue plate paint
YELLOW_HUE = (12, 35)  # [OpenCV half-degrees] yellow plate paint


def hue_share(rgb):
    """(blue share, yellow share) of the saturated pixels of an RGB image."""
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    v = f.max(-1)
    d = v - f.min(-1)
    s = np.where(v > 0, 255 * d / np.maximum(v, 1e-9), 0)
    dd = np.maximum(d, 1e-9)
    h = np.where(v == r, 60 * (g - b) / dd, np.where(v == g, 120 + 60 * (b - r) / dd,
                                                      240 + 60 * (r - g) / dd))
    h = np.mod(h, 360) / 2  # OpenCV's 8-bit hue scale
    paint = (s >= SAT_MIN) & (v >= VAL_MIN) & (d > 0)
    n = max(1, int(paint.sum()))
    blue = int((paint & (h >= BLUE_HUE[0]) & (h <= BLUE_HUE[1])).sum())
    yellow = int((paint & (h >= YELLOW_HUE[0]) & (h <= YELLOW_HUE[1])).sum())
    return blue / n, yellow / n


def crop_colour(jpeg):
    blue, yellow = hue_share(decode_jpeg(jpeg))
    return ("yellow" if yellow > blue else "blue"), blue, yellow


# ---------------------------------------------------------------- git helpers
def git_files(gitdir, prefix=""):
    out = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "-r", "-z", "--name-only",
                          "HEAD", "--", prefix] if prefix else
                         ["git", "--git-dir", gitdir, "ls-tree", "-r", "-z", "--name-only",
                          "HEAD"], check=True, capture_output=True).stdout
    return [p.decode() for p in out.split(b"\0") if p]


def git_blob(gitdir, path):
    return subprocess.run(["git", "--git-dir", gitdir, "cat-file", "blob", "HEAD:" + path],
                          check=True, capture_output=True).stdout


def repo_name(gitdir):
    # /work/.mirror/owner+name/repo -> owner/name
    parts = os.path.abspath(gitdir).rstrip("/").split("/")
    for p in reversed(parts):
        if "+" in p:
            return p.replace("+", "/", 1)
    return gitdir


# ---------------------------------------------------------------- sets
class TruthSet:
    def __init__(self, out, name, comment):
        self.dir = os.path.join(out, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name, self.comment, self.rows = name, comment, []

    def add(self, file, data, colour, condition, text, groups=()):
        with open(os.path.join(self.dir, file), "wb") as f:
            f.write(data)
        self.rows.append((file, colour, condition, text, tuple(groups)))

    def write(self):
        def dump(path, rows, what):
            with open(path, "w", encoding="utf-8") as f:
                f.write("# file\tcolour\tcondition\ttext (UTF-8); %s%s\n" % (self.comment, what))
                for r in rows:
                    f.write("\t".join(r[:4]) + "\n")

        for f in os.listdir(self.dir):  # a group file of an earlier run
            if f.startswith("truth-") and f.endswith(".tsv"):
                os.remove(os.path.join(self.dir, f))
        dump(os.path.join(self.dir, "truth.tsv"), self.rows, "")
        groups = collections.defaultdict(list)
        for r in self.rows:
            groups[r[1]].append(r)
            groups[r[2]].append(r)
            for g in r[4]:
                groups[g].append(r)
        for g, rows in sorted(groups.items()):
            if len(rows) < len(self.rows):
                dump(os.path.join(self.dir, "truth-%s.tsv" % g), rows, "; only " + g)
        return {g: len(v) for g, v in sorted(groups.items())}


def lyl_label(name):
    base = os.path.basename(name)
    m = re.match(r"^([AB]\d\d|S\d\d)_([0-9A-Z]{6})_", base)
    if not m:
        return None
    return m.group(1), LYL_PROVINCE.get(m.group(1), None), m.group(2)


def build_lyl(out, gitdir):
    repo = repo_name(gitdir)
    sets = {}
    valid_codes = set()
    for part in ("valid", "train"):
        ts = TruthSet(out, "lyl-" + part, "%s %s/, text from the file name (LPRtf3.py "
                      "province codes), colour by hue share (scripts/anpr-real-sets.py)" %
                      (repo, part))
        files = sorted(git_files(gitdir, part + "/"))
        blobs = {f: git_blob(gitdir, f) for f in files if f.lower().endswith(".jpg")}
        by_hash = collections.defaultdict(list)
        for f, b in blobs.items():
            by_hash[hashlib.sha256(b).hexdigest()].append(f)
        dropped = []
        for f in sorted(blobs):
            lab = lyl_label(f)
            if lab is None or lab[1] is None:
                print("%s: %s: no label, left out" % (ts.name, f), file=sys.stderr)
                continue
            code, prov, serial = lab
            twins = by_hash[hashlib.sha256(blobs[f]).hexdigest()]
            if part == "valid":
                # the copies with a space in the name are byte-identical to a plain name
                if " " in os.path.basename(f) and any(" " not in t for t in twins):
                    dropped.append(f)
                    continue
                valid_codes.add(code)
            elif code not in valid_codes:
                continue
            colour, blue, yellow = crop_colour(blobs[f])
            ts.add(os.path.basename(f), blobs[f], colour, "clear_day", prov + serial)
        if dropped:
            print("%s: %d byte-identical copies left out: %s" % (ts.name, len(dropped),
                                                                 ", ".join(dropped)),
                  file=sys.stderr)
        sets[ts.name] = ts.write()
        sets[ts.name]["all"] = len(ts.rows)
    return sets


def ccpd_label(base):
    """CCPD file name -> (text, colour) or None. Field 5 is the plate's index list."""
    f = os.path.splitext(base)[0].split("-")
    if len(f) != 7:
        return None
    try:
        idx = [int(x) for x in f[4].split("_")]
    except ValueError:
        return None
    if len(idx) not in (7, 8) or idx[0] >= len(CCPD_PROVINCES) or idx[1] >= len(
            CCPD_ALPHABETS) or any(i >= len(CCPD_ADS) for i in idx[2:]):
        return None
    text = CCPD_PROVINCES[idx[0]] + CCPD_ALPHABETS[idx[1]] + "".join(CCPD_ADS[i] for i in idx[2:])
    return text, ("green" if len(idx) == 8 else "blue")


def ccpd_photos(gitdir, prefix, keep, seen):
    """(path, file name, (text, colour)) of the CCPD-labelled .jpg files under prefix that
    keep(path) takes, each file name once (seen: the names already used)."""
    for f in sorted(git_files(gitdir, prefix)):
        base = os.path.basename(f)
        if not f.lower().endswith(".jpg") or base in seen or not keep(f):
            continue
        lab = ccpd_label(base)
        if lab is None:
            continue
        seen.add(base)
        yield f, base, lab


def build_ccpd(out, gitdirs):
    ts = TruthSet(out, "ccpd", "CCPD photos (%s), truth from the CCPD file names" %
                  ", ".join(repo_name(g) for g in gitdirs))
    seen = set()
    for g in gitdirs:
        # ZhijuCen test_suite/ccpd_base; HuKai97 demo/images (its det_/rec_result are the
        # same photos with boxes drawn on them)
        keep = lambda f: (os.path.dirname(f).endswith("test_suite/ccpd_base") or
                          os.path.dirname(f) == "demo/images")
        for f, base, lab in ccpd_photos(g, "", keep, seen):
            ts.add(base, git_blob(g, f), lab[1], "clear_day", lab[0])
    counts = ts.write()
    counts["all"] = len(ts.rows)
    return {"ccpd": counts}


def ccpd_split_subsets(ccpd_gitdir):
    """CCPD file name -> its subsets, from detectRecog/CCPD split/ccpd_<subset>.txt (blur, db,
    fn, rotate, tilt are listed there; weather has no list, challenge's is too large to fetch).
    One name can be in several lists (15 667 of the 74 743 names are)."""
    names = collections.defaultdict(set)
    for f in git_files(ccpd_gitdir, "split/"):
        m = re.match(r"^split/ccpd_(\w+)\.txt$", f)
        if not m:
            continue
        try:
            text = git_blob(ccpd_gitdir, f).decode()
        except subprocess.CalledProcessError:  # not in the snapshot (4 MiB and more)
            print("ccpd-hard: %s not in the snapshot" % f, file=sys.stderr)
            continue
        for line in text.split():
            names[os.path.basename(line)].add(m.group(1))
    return names


def subset_of(path, split_names):
    """The CCPD subset of a photo: a folder ccpd_<subset> on its path, else its name's one
    subset in CCPD's split lists; None when neither or the lists name several."""
    for part in reversed(path.lower().split("/")[:-1]):
        m = re.match(r"^ccpd_?(base|blur|challenge|db|fn|rotate|tilt|weather|green|np)\b", part)
        if m:
            return m.group(1)
    listed = split_names.get(os.path.basename(path), set())
    return next(iter(listed)) if len(listed) == 1 else None


def all_commit_jpgs(gitdir):
    """(path, blob) of every .jpg in any commit of gitdir whose blob is present (a sample that
    a repository once held and later deleted counts too)."""
    seen = {}
    revs = subprocess.run(["git", "--git-dir", gitdir, "rev-list", "--all"], check=True,
                          capture_output=True, text=True).stdout.split()
    for c in revs:
        out = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "-r", "-z", c],
                             check=True, capture_output=True).stdout
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            path = path.decode()
            if path.lower().endswith(".jpg") and path not in seen:
                seen[path] = meta.split()[2].decode()
    for path, blob in sorted(seen.items()):
        if subprocess.run(["git", "--git-dir", gitdir, "cat-file", "-e", blob],
                          capture_output=True).returncode == 0:
            yield path, blob


def build_hard(out, gitdirs, ccpd_gitdir, exclude):
    """Every CCPD-named photo of a hard subset in any commit of gitdirs (ccpd-hard/)."""
    split_names = ccpd_split_subsets(ccpd_gitdir)
    ts = TruthSet(out, "ccpd-hard", "CCPD hard-subset photos (%s), truth from the CCPD file "
                  "names, subset from CCPD's split lists or folder, condition from the subset "
                  "(scripts/anpr-real-sets.py SUBSET_CONDITION); file = ccpd_<subset>__<name>" %
                  ", ".join(repo_name(g) for g in gitdirs))
    seen = set(exclude)
    for g in gitdirs:
        for path, blob in all_commit_jpgs(g):
            base, sub = os.path.basename(path), subset_of(path, split_names)
            lab = ccpd_label(base)
            if lab is None or base in seen or SUBSET_CONDITION.get(sub) is None or sub in (
                    "base", "green"):
                continue
            seen.add(base)
            data = subprocess.run(["git", "--git-dir", g, "cat-file", "blob", blob], check=True,
                                  capture_output=True).stdout
            ts.add("ccpd_%s__%s" % (sub, base), data, lab[1], SUBSET_CONDITION[sub], lab[0],
                   ["ccpd_" + sub])
    counts = ts.write()
    counts["all"] = len(ts.rows)
    return {"ccpd-hard": counts}


# EasyPR GroundTruth colour names -> ours (a yellow plate under 2.4:1 is the two-row one)
EASYPR_COLOUR = {"蓝牌": "blue", "黄牌": "yellow"}
EASYPR_TILT_DEG = 10  # [deg] |rotation| of the tagged plate from which it is group easypr_tilt
EASYPR_SMALL_PX = 80  # [px] tagged plate width under which it is group easypr_small
# GDTS does not tag conditions. Tagged by eye on 2026-12-08 (branch anprdata) from 1/8-scale
# thumbnails of the 206 photos this script can decode (the 12 progressive JPEGs untagged),
# one reader; keyed by the first 12 hex digits of the photo's SHA-256 (no plate here):
# "night": dark scene, headlights on (colour camera); "dusk": low sun, the plate in shade.
# Both get the condition dusk (a colour low-light scene; night_ir is the infrared camera).
EASYPR_BY_EYE = {
    "night": {
        "0154428adfbc", "15e4e0334645", "23c459daf854", "25dbcee32311", "2cab6db6abc5",
        "2ddaa90460a5", "3e845b35ec88", "43d4be677d78", "4f41960b1c1d", "539e481627c1",
        "64686fe20c7a", "657eb2ccee7d", "7632cc7e294c", "823fc05b923a", "911e987c368b",
        "97eeef009821", "a1cf1629fad5", "ac8e20f27bc3", "b16c496a618b", "b16eec784abd",
        "c02a9f908986", "c8d625b5d487", "d668b617c70c", "d93b77835fa9", "db2f4fbdbadb",
        "de388334ee84", "e0797c5dc6f7", "e90658ff0398", "ee4891500950", "f8ad96d12c56",
        "f92a1a9e86a4", "fb57538391dd"},
    "dusk": {"0731c7061213", "3084a5df97d8", "5852933070d0", "646f55302568", "9054b36b0d0a",
             "9dd3b121509e"},
}


# EasyPR's extreme_test (removed from the tree in 2016, kept in its history): photos named by
# their plate, no tags. Folder -> (condition, group); colour blue unless tagged yellow by eye
# (2026-12-08, one reader; SHA-256 prefixes as above).
EASYPR_EXTREME = {"污损": ("dirt", "easypr_dirty"), "大角度": ("clear_day", "easypr_angle")}
EASYPR_EXTREME_YELLOW = {"00ba21ed71b8", "79c98c082b5f"}


def add_easypr_extreme(ts, gitdir):
    folder = "resources/image/extreme_test"
    log = subprocess.run(["git", "--git-dir", gitdir, "log", "--all", "--format=%H", "--",
                          folder], check=True, capture_output=True, text=True).stdout.split()
    paths = []
    for c in log + [c + "^" for c in log]:  # the newest commit whose tree still has it
        out = subprocess.run(["git", "--git-dir", gitdir, "ls-tree", "-r", "-z", "--name-only",
                              c, "--", folder], capture_output=True).stdout
        paths = [p.decode() for p in out.split(b"\0") if p]
        if paths:
            break
    for p in sorted(paths):
        sub, name = p.split("/")[-2], os.path.splitext(os.path.basename(p))[0]
        if sub not in EASYPR_EXTREME or not p.lower().endswith(".jpg"):
            continue
        data = subprocess.run(["git", "--git-dir", gitdir, "cat-file", "blob", c + ":" + p],
                              check=True, capture_output=True).stdout
        yellow = hashlib.sha256(data).hexdigest()[:12] in EASYPR_EXTREME_YELLOW
        cond, group = EASYPR_EXTREME[sub]
        ts.add("extreme_" + os.path.basename(p), data, "yellow" if yellow else "blue", cond,
               name, [group])


def build_easypr(out, gitdir):
    """liuruoze/EasyPR resources/image/general_test (GDTS): photos named by their plate, with
    GroundTruth_others.xml (plate colour, box, rotation). Only photos with exactly one tagged
    plate whose text equals the file name are kept (the others have a second plate a reader
    may rightly read, or a name and a tag that disagree)."""
    import xml.etree.ElementTree as ET
    folder = "resources/image/general_test/"
    xml = git_blob(gitdir, folder + "GroundTruth_others.xml").decode("utf-8")
    tags = collections.defaultdict(list)
    for im in ET.fromstring(xml.split("?>", 1)[1]).findall("image"):
        for r in im.findall("taggedRectangles/taggedRectangle"):
            tags[im.find("imageName").text].append(r)
    ts = TruthSet(out, "easypr", "%s %s (GDTS, GDSL: non-commercial use only), text from the "
                  "file name = its one GroundTruth tag, colour from the tag" %
                  (repo_name(gitdir), folder))
    left_out = collections.Counter()
    for f in sorted(git_files(gitdir, folder)):
        name, ext = os.path.splitext(os.path.basename(f))
        if ext.lower() != ".jpg":
            continue
        rs = tags.get(name, [])
        if len(rs) != 1:
            left_out["%d plates tagged" % len(rs) if rs else "no tag"] += 1
            continue
        colour, _, text = rs[0].text.partition(":")
        if text != name or colour not in EASYPR_COLOUR:
            left_out["name and tag differ"] += 1
            continue
        w, h = int(rs[0].get("width")), int(rs[0].get("height"))
        rot = float(rs[0].get("rotation"))  # [deg]
        if abs(rot) > 45:  # a box tagged upright (-86 deg): width and height swapped
            w, h, rot = h, w, rot - math.copysign(90, rot)
        colour = EASYPR_COLOUR[colour]
        if colour == "yellow" and w < 2.4 * h:
            colour = "yellow_double"
        data = git_blob(gitdir, f)
        groups = ["easypr_tilt"] if abs(rot) >= EASYPR_TILT_DEG else []
        groups += ["easypr_small"] if w < EASYPR_SMALL_PX else []
        digest = hashlib.sha256(data).hexdigest()[:12]
        eye = [k for k, v in EASYPR_BY_EYE.items() if digest in v]
        groups += ["easypr_" + k for k in eye]
        ts.add(os.path.basename(f), data, colour, "dusk" if eye else "clear_day", text, groups)
    print("easypr: left out %s" % dict(left_out), file=sys.stderr)
    add_easypr_extreme(ts, gitdir)
    counts = ts.write()
    counts["all"] = len(ts.rows)
    return {"easypr": counts}


EXPECTED = {"lyl-valid": {"all": 146, "blue": 114, "yellow": 32},
            "lyl-train": {"all": 735, "blue": 594, "yellow": 141},
            "ccpd": {"all": 25, "blue": 20, "green": 5}}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--lyl", help="git dir of lyl8213/Plate_Recognition-LPRnet")
    ap.add_argument("--ccpd", nargs="*", default=[],
                    help="git dirs of ZhijuCen/... and HuKai97/... (CCPD photos)")
    ap.add_argument("--hard", nargs="*", default=[],
                    help="git dirs to search (every commit) for CCPD hard-subset photos")
    ap.add_argument("--ccpd-splits", help="git dir of detectRecog/CCPD (its split/ lists)")
    ap.add_argument("--easypr", help="git dir of liuruoze/EasyPR")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the notes' counts")
    a = ap.parse_args()
    if not os.path.abspath(a.out).startswith("/tmp/"):
        sys.exit("anpr-real-sets: OUT must be under /tmp (plates are personal data)")
    for g in [a.lyl or "", a.easypr or ""] + a.ccpd + a.hard:
        if "lprnet_pytorch" in g.lower():
            sys.exit("anpr-real-sets: %s is the held-out set's repository: not used" % g)
    counts = {}
    if a.lyl:
        counts.update(build_lyl(a.out, a.lyl))
    if a.ccpd:
        counts.update(build_ccpd(a.out, a.ccpd))
    if a.hard:
        if not a.ccpd_splits:
            sys.exit("anpr-real-sets: --hard needs --ccpd-splits (detectRecog/CCPD)")
        base_names = set()
        for g in a.ccpd:
            base_names.update(os.path.basename(f) for f in git_files(g))
        counts.update(build_hard(a.out, a.hard, a.ccpd_splits, base_names))
    if a.easypr:
        counts.update(build_easypr(a.out, a.easypr))
    bad = []
    for name, c in counts.items():
        print("%-10s %s" % (name, "  ".join("%s %d" % kv for kv in c.items())))
        for k, v in EXPECTED.get(name, {}).items():
            if c.get(k, 0) != v:
                bad.append("%s %s: %d, the notes say %d" % (name, k, c.get(k, 0), v))
    for b in bad:
        print("anpr-real-sets: COUNT DIFFERS: " + b, file=sys.stderr)
    return 1 if a.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
