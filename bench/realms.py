"""Creates realms through the Admin API, one after another on one keep-alive connection (a
tenant service provisioning tenants), each with one confidential client, and prints the
creation latency by batch, the admin token's size, the time of GET /admin/realms and the
server's resident memory. Usage: realms.py <port> <count> <batch> <pid> <label>; PAUSE (seconds,
default 0) waits between creations, as a service creating a tenant now and then would."""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

port, count, batch, pid, label = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
pause = float(os.environ.get("PAUSE", "0"))
conn = http.client.HTTPConnection("127.0.0.1", port)


def req(method, path, body=None, token=None, form=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form)
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def token():
    s, b = req("POST", "/realms/master/protocol/openid-connect/token",
               form={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"})
    assert s == 200, b
    return json.loads(b)["access_token"]


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


t = token()
issued = time.monotonic()
print(f"{label}: realms created one after another, {batch} per row (ms)")
print("| realms | p50 | p99 | RSS after (MB) |")
print("|---|---|---|---|")
all_ms = []
for start in range(0, count, batch):
    times = []
    for i in range(start, min(start + batch, count)):
        if time.monotonic() - issued > 50:
            t, issued = token(), time.monotonic()
        body = {"realm": f"tenant-{i:05d}", "enabled": True,
                "clients": [{"clientId": "svc", "secret": f"s-{i}", "serviceAccountsEnabled": True,
                             "publicClient": False}]}
        t0 = time.perf_counter()
        s, b = req("POST", "/admin/realms", body=body, token=t)
        times.append((time.perf_counter() - t0) * 1000)
        assert s == 201, (s, b)
        if pause:
            time.sleep(pause)
    times.sort()
    all_ms += times
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"| {start + 1}-{start + len(times)} | {statistics.median(times):.1f} | {p99:.1f} | {rss_mb():.0f} |")
all_ms.sort()
print(f"{label}: all {len(all_ms)}: p50 {statistics.median(all_ms):.1f} ms, p99 {all_ms[int(len(all_ms) * 0.99)]:.1f} ms")
t = token()
print(f"{label}: admin access token {len(t)} bytes")
t0 = time.perf_counter()
s, b = req("GET", "/admin/realms?briefRepresentation=true", token=t)
print(f"{label}: GET /admin/realms?briefRepresentation=true: {s}, {len(json.loads(b))} realms, {(time.perf_counter() - t0) * 1000:.0f} ms")
s, b = req("POST", f"/realms/tenant-{count - 1:05d}/protocol/openid-connect/token",
           form={"grant_type": "client_credentials", "client_id": "svc", "client_secret": f"s-{count - 1}"})
print(f"{label}: client credentials in the last realm: {s}")
