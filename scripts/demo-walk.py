#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Works one case of a running demo through the review workbench, as a person would with
# the pages, over the same HTTPS /api the pages use (docs/workbench-api.md), with the
# logins the demo printed (out/demo/workbench-logins.txt):
#   transport: the queue, the oldest case, its plate read if the camera left it to a
#   human, Confirm; police: Fine or Warning (by the excess, Art. 43), Close; supervisor:
#   the statistics move (one more closed case) and the case's audit trail.
#   scripts/demo-walk.py [RUN_DIR] [WORKBENCH_URL]   (defaults out/demo, https://127.0.0.1:18444)
# Exit 0 when every step did what it should; 1 naming the step that did not.
import http.cookiejar
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

run = sys.argv[1] if len(sys.argv) > 1 else "out/demo"
base = (sys.argv[2] if len(sys.argv) > 2 else "https://127.0.0.1:18444").rstrip("/")
ctx = ssl.create_default_context(cafile=os.path.join(run, "pki", "ca.cert.pem"))
logins = {}
with open(os.path.join(run, "workbench-logins.txt")) as f:
    for line in f:
        user, role, password = line.split()
        logins[user] = password


def fail(what):
    print("demo-walk: FAILED: " + what)
    sys.exit(1)


class Session:
    def __init__(self, user):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""
        me = self.call("POST", "/api/login", {"user": user, "password": logins[user]})
        self.csrf = me["csrf"]
        print(f"logged in as {user} ({me['role']})")

    def call(self, method, path, body=None):
        req = urllib.request.Request(base + path, method=method)
        data = None
        if method == "POST":
            req.add_header("Content-Type", "application/json")
            if self.csrf:
                req.add_header("X-CSRF-Token", self.csrf)
            data = json.dumps(body or {}).encode()
        try:
            with self.opener.open(req, data, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            fail(f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')}")


sup = Session("supervisor")
before = sup.call("GET", "/api/stats")
closed_before = before["cases_by_state"].get("closed", 0)
print(f"statistics today: {before['days'][-1]['city']}, cases by state {before['cases_by_state']}")

tr = Session("transport")
queue = tr.call("GET", "/api/cases?queue=transport")["cases"]
if not queue:
    fail("the transport queue is empty (no overload case yet: let the demo run longer)")
c = queue[0]
cid = c["case_id"]
print(f"transport queue: {len(queue)} cases; first {cid}, plate {c['plate']!r}, "
      f"excess {c['excess_kg']} kg, deadline {c['stage_deadline_utc']}")
page = tr.call("GET", f"/api/cases/{cid}")
v = page["verification"]
print(f"  case page: signature {v['signature']}, chain {v['chain']}, "
      f"attachments {sum(a['ok'] for a in v['attachments'])}/{len(v['attachments'])} ok")
if v["signature"] != "ok":
    fail(f"{cid}: the packet's signature is {v['signature']}")
if c["plate_needs_human"] or not c["plate"]:
    tr.call("POST", f"/api/cases/{cid}/plate", {"plate": "沪D00001"})
    print("  plate read by a person: 沪D00001")
c = tr.call("POST", f"/api/cases/{cid}/confirm", {"reason": "demo walk: photo and axles agree"})["case"]
if c["state"] != "awaiting_police_review":
    fail(f"{cid}: after confirm the state is {c['state']}")
print(f"  confirmed -> {c['state']}, police deadline {c['stage_deadline_utc']}")

po = Session("police")
if cid not in [x["case_id"] for x in po.call("GET", "/api/cases?queue=police")["cases"]]:
    fail(f"{cid} is not in the police queue")
kind = "fine" if c["excess_kg"] > 1000 else "warning"
c = po.call("POST", f"/api/cases/{cid}/decide", {"kind": kind, "reason": ""})["case"]
print(f"  decided: {c['decision']}")
c = po.call("POST", f"/api/cases/{cid}/close", {})["case"]
if c["state"] != "closed":
    fail(f"{cid}: after close the state is {c['state']}")
print(f"  closed")

after = sup.call("GET", "/api/stats")
closed_after = after["cases_by_state"].get("closed", 0)
print(f"statistics now: cases by state {after['cases_by_state']}, "
      f"closure rate {after['closure_rate']:.3f}")
if closed_after != closed_before + 1:
    fail(f"closed cases {closed_before} -> {closed_after}, expected one more")
trail = sup.call("GET", f"/api/audit?case={cid}")["entries"]
print("audit trail: " + ", ".join(f"{e['seq']} {e['user']} {e['action']}" for e in trail))
if [e["action"].split(":")[0] for e in trail][-3:] != ["confirm", "decide", "close"]:
    fail(f"{cid}: the audit trail ends {[e['action'] for e in trail][-3:]}")
print(f"demo-walk: OK: {cid} confirmed by transport, {kind} by police, closed, counted")
