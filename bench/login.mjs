// The full browser login as load: GET the authorization endpoint (login page and its
// cookies), POST the credentials, follow the redirect's code to the token endpoint (code +
// PKCE), with a fresh cookie jar per login, on N concurrent workers for D seconds. Prints
// completed logins per second and latency percentiles of whole logins.
//
//   node bench/login.mjs <realm-base-url> <client_id> <client_secret> <redirect_uri> <user> <password> [workers=4] [seconds=10]
import { createHash, randomBytes } from 'node:crypto';

const [base, clientId, secret, redirectUri, user, password, workersArg, secondsArg] = process.argv.slice(2);
if (!password) {
  console.error('usage: node bench/login.mjs <realm-base-url> <client_id> <client_secret> <redirect_uri> <user> <password> [workers] [seconds]');
  process.exit(2);
}
const workers = Number(workersArg ?? 4);
const seconds = Number(secondsArg ?? 10);
const oidc = `${base}/protocol/openid-connect`;
const b64u = (b) => b.toString('base64url');

class Jar {
  constructor() { this.cookies = new Map(); }
  take(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

const field = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
const unescape = (s) => s.replaceAll('&amp;', '&');

async function login() {
  const jar = new Jar();
  const verifier = b64u(randomBytes(32));
  const challenge = b64u(createHash('sha256').update(verifier).digest());
  const state = b64u(randomBytes(8));
  const auth = `${oidc}/auth?` + new URLSearchParams({
    client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: redirectUri,
    state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  const page = await fetch(auth, { redirect: 'manual' });
  jar.take(page);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`login page: ${page.status}`);
  const action = new URL(unescape(html.match(/action="([^"]*)"/)[1]), base);
  const form = new URLSearchParams({ username: user, password });
  const code = field(html, 'session_code');
  if (code) form.set('session_code', code);
  const posted = await fetch(action, {
    method: 'POST', redirect: 'manual', body: form,
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
  });
  await posted.arrayBuffer();
  const location = posted.headers.get('location');
  if (posted.status !== 302 || !location) throw new Error(`credentials: ${posted.status}`);
  const back = new URL(location);
  if (back.searchParams.get('state') !== state) throw new Error('state mismatch');
  const token = await fetch(`${oidc}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: back.searchParams.get('code'),
      redirect_uri: redirectUri, code_verifier: verifier,
    }),
  });
  const body = await token.json();
  if (token.status !== 200 || !body.access_token) throw new Error(`token: ${token.status} ${JSON.stringify(body)}`);
}

const times = [];
let errors = 0;
const end = Date.now() + seconds * 1000;
const start = performance.now();
await Promise.all(Array.from({ length: workers }, async () => {
  while (Date.now() < end) {
    const t = performance.now();
    try {
      await login();
      times.push(performance.now() - t);
    } catch (e) {
      if (errors++ === 0) console.error(String(e));
    }
  }
}));
const elapsed = (performance.now() - start) / 1000;
times.sort((a, b) => a - b);
const pct = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1) : '-');
console.log(`logins/s ${(times.length / elapsed).toFixed(1)}  (${times.length} in ${elapsed.toFixed(1)} s, ${errors} errors, ${workers} workers)  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms`);
