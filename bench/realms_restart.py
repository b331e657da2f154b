"""After bench/realms.py: the server was restarted on the same store. Prints the time from the
process start (argv[3], ns since the epoch) to its first token in the last realm, then uses
HOT realms (a client-credentials grant each), and prints resident memory, GET
/admin/realms?briefRepresentation=true twice (the first reads what it does not know yet of
every realm), and the memory after. Usage: realms_restart.py <port> <count> <start_ns> <pid> <hot>"""
import http.client
import json
import sys
import time
import urllib.parse

port, count, start_ns, pid, hot = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])


def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def grant(c, i):
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "svc", "client_secret": f"s-{i}"})
    c.request("POST", f"/realms/tenant-{i:05d}/protocol/openid-connect/token", body=form,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    return r.status, r.read()


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


while True:
    try:
        c = conn()
        s, _ = grant(c, count - 1)
        if s == 200:
            break
    except OSError:
        pass
    time.sleep(0.005)
print(f"restart: first token in the last realm {(time.time_ns() - start_ns) / 1e6:.0f} ms after the process started")
print(f"restart: RSS after the first token {rss_mb():.0f} MB")
for i in range(hot):
    s, b = grant(c, i)
    assert s == 200, (i, s, b)
print(f"restart: {hot} realms used, RSS {rss_mb():.0f} MB")
form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"})
c.request("POST", "/realms/master/protocol/openid-connect/token", body=form,
          headers={"Content-Type": "application/x-www-form-urlencoded"})
token = json.loads(c.getresponse().read())["access_token"]
for attempt in ("first", "second"):
    t0 = time.perf_counter()
    c.request("GET", "/admin/realms?briefRepresentation=true", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    n = len(json.loads(r.read()))
    print(f"restart: GET /admin/realms?briefRepresentation=true ({attempt}): {r.status}, {n} realms, "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms, RSS {rss_mb():.0f} MB")
for i in range(hot):
    s, b = grant(c, i)
    assert s == 200, (i, s, b)
print(f"restart: the {hot} realms again, RSS {rss_mb():.0f} MB")
