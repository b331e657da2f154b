// Soak (issue 19, point 6): a mixed load at fixed rates for M minutes against one server, with a
// line per minute: requests and errors per kind, p99 per kind and overall, the server's resident
// memory, open files and threads (from /proc/<pid>), and the store's size on disk.
// Kinds and rates (per second unless said): client credentials 40, refresh 40 (20 sessions,
// each refreshing with its newest token), browser logins 2 (a whole login with PKCE: one
// Argon2id hash each), admin writes 2 (a user created, then updated), realm creations 2 a
// minute (each with one confidential client, deleted again 10 minutes later so the realm count
// stays bounded).
//
//   node bench/soak.mjs <base-url> <server-pid> <data-dir> [minutes=60]
// base-url is http://host:port; the server must have imported bench/realm-bench.json and have
// the bootstrap administrator admin/admin.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { browserLogin } from './browser-login.mjs';

const [base, pidArg, dataDir, minutesArg] = process.argv.slice(2);
if (!dataDir) {
  console.error('usage: node bench/soak.mjs <base-url> <server-pid> <data-dir> [minutes]');
  process.exit(2);
}
const minutes = Number(minutesArg ?? 60);
const realm = `${base}/realms/bench-rs/protocol/openid-connect`;
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const apiAuth = basic('bench-api', 'bench-secret');
const form = (o) => new URLSearchParams(o);

// Per-minute tallies, per kind.
let tally = new Map();
function record(kind, ms, ok) {
  const t = tally.get(kind) ?? { n: 0, errors: 0, times: [] };
  t.n++;
  if (!ok) t.errors++;
  t.times.push(ms);
  tally.set(kind, t);
}
let firstError = new Map();
async function timed(kind, f) {
  const t = performance.now();
  try {
    await f();
    record(kind, performance.now() - t, true);
  } catch (e) {
    record(kind, performance.now() - t, false);
    if (!firstError.has(kind)) firstError.set(kind, String(e).slice(0, 200));
  }
}
async function expect(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${(await res.text()).slice(0, 120)}`);
  return res;
}

// The administrator's token, renewed before it expires (60 s access tokens in master).
let admin = { token: '', until: 0 };
async function adminToken() {
  if (Date.now() < admin.until) return admin.token;
  const res = await expect(await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
    method: 'POST', body: form({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
  }), 200, 'admin token');
  const body = await res.json();
  admin = { token: body.access_token, until: Date.now() + (body.expires_in - 10) * 1000 };
  return admin.token;
}
async function adminCall(method, path, body) {
  return fetch(`${base}/admin/realms${path}`, {
    method,
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const kinds = {
  async client_credentials() {
    await expect(await fetch(`${realm}/token`, {
      method: 'POST', headers: { authorization: apiAuth }, body: form({ grant_type: 'client_credentials' }),
    }), 200, 'client credentials');
  },
  refresh: (() => {
    const sessions = [];
    return async () => {
      // 20 sessions, opened lazily; each refresh uses a session's newest refresh token.
      if (sessions.length < 20) {
        const res = await expect(await fetch(`${realm}/token`, {
          method: 'POST', headers: { authorization: apiAuth },
          body: form({ grant_type: 'password', username: 'bench-user', password: 'bench-password', scope: 'openid' }),
        }), 200, 'password grant');
        sessions.push((await res.json()).refresh_token);
        return;
      }
      const i = Math.floor(Math.random() * sessions.length);
      const res = await fetch(`${realm}/token`, {
        method: 'POST', headers: { authorization: apiAuth },
        body: form({ grant_type: 'refresh_token', refresh_token: sessions[i] }),
      });
      if (res.status !== 200) {
        sessions.splice(i, 1); // the session ended (idle or max lifespan): open another
        throw new Error(`refresh: ${res.status} ${(await res.text()).slice(0, 120)}`);
      }
      sessions[i] = (await res.json()).refresh_token;
    };
  })(),
  login: browserLogin({
    authEndpoint: `${realm}/auth`, tokenEndpoint: `${realm}/token`, clientId: 'bench-web', secret: 'bench-secret',
    redirectUri: 'http://127.0.0.1/cb', user: 'bench-user', password: 'bench-password',
  }),
  admin_write: (() => {
    let n = 0;
    return async () => {
      const username = `soak-${process.pid}-${n++}`;
      const created = await expect(await adminCall('POST', '/bench-rs/users', { username, enabled: true }), 201, 'create user');
      const id = created.headers.get('location').split('/').pop();
      await expect(await adminCall('PUT', `/bench-rs/users/${id}`, { firstName: 'Soak', lastName: String(n) }), 204, 'update user');
    };
  })(),
  realm_create: (() => {
    let n = 0;
    const live = [];
    return async () => {
      const name = `soak-${process.pid}-${n++}`;
      await expect(await adminCall('POST', '', {
        realm: name, enabled: true,
        clients: [{ clientId: 'svc', secret: 'svc-secret', serviceAccountsEnabled: true, publicClient: false }],
      }), 201, 'create realm');
      live.push({ name, at: Date.now() });
      while (live.length && Date.now() - live[0].at > 10 * 60 * 1000) {
        await expect(await adminCall('DELETE', `/${live.shift().name}`), 204, 'delete realm');
      }
    };
  })(),
};
const rates = { client_credentials: 40, refresh: 40, login: 2, admin_write: 2, realm_create: 2 / 60 };

// Each kind fires at its rate on a timer, whatever the answers take (an open loop), with at
// most 64 requests of a kind in flight (beyond that a tick is counted as an error: the server
// fell behind).
const inFlight = new Map();
const timers = Object.entries(rates).map(([kind, perSecond]) => setInterval(() => {
  if ((inFlight.get(kind) ?? 0) >= 64) {
    record(kind, 0, false);
    if (!firstError.has(kind)) firstError.set(kind, 'backlog: 64 requests of this kind in flight');
    return;
  }
  inFlight.set(kind, (inFlight.get(kind) ?? 0) + 1);
  timed(kind, kinds[kind]).finally(() => inFlight.set(kind, inFlight.get(kind) - 1));
}, 1000 / perSecond));

function proc() {
  const status = readFileSync(`/proc/${pidArg}/status`, 'utf8');
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
  return {
    rssMb: (field('VmRSS') / 1024).toFixed(1),
    threads: field('Threads'),
    fds: readdirSync(`/proc/${pidArg}/fd`).length,
    storeMb: (Number(execFileSync('du', ['-sk', dataDir]).toString().split('\t')[0]) / 1024).toFixed(1),
  };
}
const p99 = (times) => {
  if (!times.length) return '-';
  const s = [...times].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(0.99 * s.length))].toFixed(1);
};

console.log('minute | ' + Object.keys(rates).map((k) => `${k} n/err/p99ms`).join(' | ') + ' | all p99 ms | RSS MB | fds | threads | store MB');
for (let minute = 1; minute <= minutes; minute++) {
  await new Promise((r) => setTimeout(r, 60_000));
  const done = tally;
  tally = new Map();
  const all = [...done.values()].flatMap((t) => t.times);
  const p = proc();
  console.log(`${minute} | ` + Object.keys(rates).map((k) => {
    const t = done.get(k) ?? { n: 0, errors: 0, times: [] };
    return `${t.n}/${t.errors}/${p99(t.times)}`;
  }).join(' | ') + ` | ${p99(all)} | ${p.rssMb} | ${p.fds} | ${p.threads} | ${p.storeMb}`);
  for (const [kind, e] of firstError) console.log(`  first ${kind} error this minute: ${e}`);
  firstError = new Map();
}
timers.forEach(clearInterval);
