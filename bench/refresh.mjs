// The refresh grant as clients use it: each of N workers (one keep-alive connection each)
// signs in once with the password grant (its own SSO session), then refreshes in a loop, always
// with the newest refresh token it was given, for D seconds. Unlike a fixed token replayed by
// wrk, every session's last use moves each second and, with the realm's revokeRefreshToken,
// every refresh rotates the token: the store's write path is on every request.
// Prints refreshes per second and latency percentiles.
//
//   node bench/refresh.mjs <token-endpoint> <client_id> <client_secret> <user> <password> [workers=64] [seconds=10] [scope=openid]
import { Agent, request } from 'node:http';

const [tokenEndpoint, clientId, secret, user, password, workersArg, secondsArg, scopeArg] = process.argv.slice(2);
if (!password) {
  console.error('usage: node bench/refresh.mjs <token-endpoint> <client_id> <client_secret> <user> <password> [workers] [seconds] [scope]');
  process.exit(2);
}
const workers = Number(workersArg ?? 64);
const seconds = Number(secondsArg ?? 10);
const scope = scopeArg ?? 'openid';
const url = new URL(tokenEndpoint);
const auth = 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64');

// One keep-alive connection per worker, so the server sees N connections as with wrk -c N.
function post(agent, form) {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request({
      agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const latencies = [];
let errors = 0;
let deadline = Infinity;

// Signs in (one Argon2id hash), then waits for `go` and refreshes until the deadline.
async function worker(signedIn, go) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const first = await post(agent, { grant_type: 'password', username: user, password, scope });
  if (first.status !== 200) throw new Error(`password grant: ${first.status} ${first.body}`);
  let refresh = JSON.parse(first.body).refresh_token;
  signedIn();
  await go;
  while (performance.now() < deadline) {
    const t = performance.now();
    const r = await post(agent, { grant_type: 'refresh_token', refresh_token: refresh });
    latencies.push(performance.now() - t);
    if (r.status === 200) refresh = JSON.parse(r.body).refresh_token;
    else errors++;
  }
  agent.destroy();
}

// Every worker signs in first; the measured period starts when all have.
let release;
const go = new Promise((resolve) => { release = resolve; });
const signIns = [];
const runs = [];
for (let i = 0; i < workers; i++) {
  let signedIn;
  signIns.push(new Promise((resolve) => { signedIn = resolve; }));
  runs.push(worker(signedIn, go));
}
await Promise.race([Promise.all(signIns), Promise.all(runs)]);
const t0 = performance.now();
deadline = t0 + seconds * 1000;
release();
await Promise.all(runs);
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(2);
console.log(`refreshes/s ${(latencies.length / elapsed).toFixed(1)}  p50 ${pct(50)} ms  p99 ${pct(99)} ms  errors ${errors}  workers ${workers}`);
