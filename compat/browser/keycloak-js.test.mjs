// keycloak-js 26.2.4, unchanged, in Debian's Chromium (driven by playwright-core, no browser
// download) against a running Portcullis. The SPA is served from http://127.0.0.1:<port>, and
// Portcullis is reached as http://localhost:<port>: another site, so the token, userinfo and
// account calls are cross-origin (CORS) and keycloak-js' iframes are third-party frames.
//
// The SPA client is registered the way the project's scripts/register-client.sh does it (a
// public client, PKCE S256, webOrigins "+"), by running that script.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { startSpa } from './spa-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const API = process.env.PORTCULLIS_URL; // http://127.0.0.1:<port>, for the test's own calls
assert.ok(API, 'PORTCULLIS_URL is required');
const KC = API.replace('://127.0.0.1:', '://localhost:'); // what the browser uses
const REALM = 'compat';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const suffix = Math.random().toString(36).slice(2, 8);
const SPA_CLIENT = `js-spa-${suffix}`;
const EXPLICIT_CLIENT = `js-explicit-${suffix}`;
const OTHER_CLIENT = `js-other-${suffix}`;

let spa;
let context;

async function adminToken() {
  const r = await fetch(`${API}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

async function createClient(rep) {
  const r = await fetch(`${API}/admin/realms/${REALM}/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify(rep),
  });
  assert.equal(r.status, 201, await r.text());
}

function appUrl(clientId, init, config = { url: KC, realm: REALM, clientId }) {
  const q = new URLSearchParams({
    config: JSON.stringify(config),
    init: JSON.stringify(init),
  });
  return `${spa.origin}/app.html?${q}`;
}

async function newPage(ctx = context) {
  return ctx.newPage();
}

async function outcome(page) {
  await page.waitForFunction(() => window.result !== undefined);
  return page.evaluate(() => window.result);
}

async function signIn(page) {
  await page.waitForURL((u) => u.href.startsWith(`${KC}/realms/${REALM}/protocol/openid-connect/auth`));
  await page.fill('input[name=username]', 'alice');
  await page.fill('input[name=password]', 'alice-pw');
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(spa.origin)),
    page.click('#kc-login'),
  ]);
}

/**
 * A Chromium with its own profile. `thirdPartyCookies`: the profile allows them, as Chrome
 * ships (`cookie_controls_mode` 0); otherwise the profile keeps this Chromium build's default,
 * which blocks them (as Safari, Firefox and Brave do).
 */
async function launch(thirdPartyCookies) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-chromium-'));
  if (thirdPartyCookies) {
    await mkdir(path.join(dir, 'Default'));
    await writeFile(path.join(dir, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0 } }));
  }
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
  const close = ctx.close.bind(ctx);
  ctx.close = async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  };
  return ctx;
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

before(async () => {
  spa = await startSpa();
  // The seed's SPA client, registered by the project's script (initial access token, then
  // the client registration API).
  const { stdout } = await promisify(execFile)('bash', [
    path.join(here, '..', '..', 'scripts', 'register-client.sh'),
    'spa', SPA_CLIENT, spa.origin, `${spa.origin}/*`,
  ], { env: { ...process.env, KEYCLOAK_BASE: API, REALM, ADMIN_USER: 'admin', ADMIN_PASS: 'admin' } });
  assert.match(stdout, new RegExp(`"clientId": "${SPA_CLIENT}"`));
  // Explicit web origins, redirect URIs elsewhere: only the explicit origin counts.
  await createClient({
    clientId: EXPLICIT_CLIENT, publicClient: true, directAccessGrantsEnabled: true,
    redirectUris: ['https://elsewhere.example/*'], webOrigins: [spa.origin],
  });
  // A client that allows another origin only.
  await createClient({
    clientId: OTHER_CLIENT, publicClient: true, directAccessGrantsEnabled: true,
    redirectUris: ['https://other.example/*'], webOrigins: ['https://other.example'],
  });
  context = await launch(true);
});

after(async () => {
  await context?.close();
  await spa?.close();
});

describe('keycloak-js 26.2.4 in Chromium', () => {
  let page;

  async function thirdPartyCheck(ctx) {
    const p = await newPage(ctx);
    await p.goto(`${spa.origin}/silent-check-sso.html`);
    const answer = await p.evaluate(async (src) => new Promise((resolve) => {
      const frame = document.createElement('iframe');
      window.addEventListener('message', (e) => {
        if (e.source === frame.contentWindow) resolve(e.data);
      });
      frame.src = src;
      document.body.appendChild(frame);
    }), `${KC}/realms/${REALM}/protocol/openid-connect/3p-cookies/step1.html`);
    await p.close();
    return answer;
  }

  test('the third-party cookie check answers "supported" where the browser keeps them', async () => {
    assert.equal(await thirdPartyCheck(context), 'supported');
  });

  test('where third-party cookies are blocked: "unsupported", and login-required still works', async () => {
    const blocked = await launch(false);
    try {
      assert.equal(await thirdPartyCheck(blocked), 'unsupported');
      const p = await newPage(blocked);
      await p.goto(appUrl(SPA_CLIENT, { onLoad: 'login-required', pkceMethod: 'S256' }));
      await signIn(p);
      // init() resolves (a missing answer from step1/step2 would reject it with a timeout),
      // and keycloak-js, told "unsupported", turned its session-status iframe off.
      assert.deepEqual(await outcome(p), { authenticated: true });
      assert.deepEqual(await p.evaluate(() => [...document.querySelectorAll('iframe')].map((f) => f.title)), []);
      assert.equal(await p.evaluate(() => window.kc.loadUserProfile().then((u) => u.username)), 'alice');
    } finally {
      await blocked.close();
    }
  });

  test("login-required with PKCE S256 through the login page (default init: status iframe and 3p check on)", async () => {
    page = await newPage();
    const authRequests = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${KC}/realms/${REALM}/protocol/openid-connect/auth`)) authRequests.push(new URL(r.url()));
    });
    await page.goto(appUrl(SPA_CLIENT, { onLoad: 'login-required', pkceMethod: 'S256', checkLoginIframeInterval: 1 }));
    await signIn(page);
    assert.deepEqual(await outcome(page), { authenticated: true });
    assert.equal(authRequests[0].searchParams.get('code_challenge_method'), 'S256');
    const state = await page.evaluate(() => ({
      token: window.kc.token, sessionId: window.kc.sessionId, username: window.kc.tokenParsed.preferred_username,
      frames: [...document.querySelectorAll('iframe')].map((f) => f.title),
    }));
    assert.equal(state.username, 'alice');
    assert.ok(state.sessionId);
    assert.equal(claims(state.token).azp, SPA_CLIENT);
    // The session-status iframe is in place (the 3p check passed and did not turn it off).
    assert.ok(state.frames.includes('keycloak-session-iframe'), JSON.stringify(state.frames));
  });

  test('the session-status iframe answers "unchanged" for the live session', async () => {
    // The page's init scheduled a check every second; a direct check through the iframe:
    const answer = await page.evaluate(() => new Promise((resolve) => {
      const frame = [...document.querySelectorAll('iframe')].find((f) => f.title === 'keycloak-session-iframe');
      const origin = new URL(frame.src).origin;
      window.addEventListener('message', (e) => { if (e.source === frame.contentWindow) resolve(e.data); });
      frame.contentWindow.postMessage(`${window.kc.clientId} ${window.kc.sessionId}`, origin);
    }));
    assert.equal(answer, 'unchanged');
    assert.ok(!(await page.evaluate(() => window.events)).includes('onAuthLogout'));
  });

  test('updateToken refreshes through the token endpoint (CORS with credentials)', async () => {
    const r = await page.evaluate(async () => {
      const before = window.kc.token;
      const refreshed = await window.kc.updateToken(-1);
      return { refreshed, changed: before !== window.kc.token, events: window.events };
    });
    assert.deepEqual({ refreshed: r.refreshed, changed: r.changed }, { refreshed: true, changed: true });
    assert.ok(r.events.includes('onAuthRefreshSuccess'));
  });

  test('loadUserProfile reads the account API; loadUserInfo the userinfo endpoint', async () => {
    const r = await page.evaluate(async () => ({
      profile: await window.kc.loadUserProfile(),
      info: await window.kc.loadUserInfo(),
    }));
    assert.equal(r.profile.username, 'alice');
    assert.equal(r.profile.email, 'alice@example.com');
    assert.equal(r.profile.firstName, 'Alice');
    assert.ok(r.profile.id);
    assert.equal(r.info.preferred_username, 'alice');
    assert.equal(r.info.sub, r.profile.id);
  });

  test('check-sso with silentCheckSsoRedirectUri finds the SSO session without leaving the page', async () => {
    const p = await newPage();
    const navigations = [];
    p.on('framenavigated', (f) => { if (f === p.mainFrame()) navigations.push(f.url()); });
    await p.goto(appUrl(SPA_CLIENT, { onLoad: 'check-sso', pkceMethod: 'S256', silentCheckSsoRedirectUri: true }));
    assert.deepEqual(await outcome(p), { authenticated: true });
    assert.equal(await p.evaluate(() => window.kc.tokenParsed.preferred_username), 'alice');
    assert.ok(navigations.every((u) => u.startsWith(spa.origin)), navigations.join('\n'));
    await p.close();
  });

  test('generic OIDC mode (oidcProvider): discovery read cross-origin, check-sso finds the session', async () => {
    const p = await newPage();
    const config = { oidcProvider: `${KC}/realms/${REALM}`, clientId: SPA_CLIENT };
    await p.goto(appUrl(SPA_CLIENT, { onLoad: 'check-sso', pkceMethod: 'S256', silentCheckSsoRedirectUri: true }, config));
    assert.deepEqual(await outcome(p), { authenticated: true });
    // The session-status iframe comes from discovery's check_session_iframe.
    const frames = await p.evaluate(() => [...document.querySelectorAll('iframe')].map((f) => f.src));
    assert.ok(frames.some((src) => src.endsWith('/protocol/openid-connect/login-status-iframe.html')), frames.join('\n'));
    await p.close();
  });

  test('check-sso in a browser without a session: not authenticated, still on the page', async () => {
    const fresh = await launch(true);
    try {
      const p = await newPage(fresh);
      await p.goto(appUrl(SPA_CLIENT, { onLoad: 'check-sso', pkceMethod: 'S256', silentCheckSsoRedirectUri: true }));
      assert.deepEqual(await outcome(p), { authenticated: false });
      assert.ok(p.url().startsWith(spa.origin));
    } finally {
      await fresh.close();
    }
  });

  test('a logout in another tab is seen by the session-status iframe: back to the login page', async () => {
    // The page checks the iframe every second; "changed" makes keycloak-js clear its tokens
    // and, for a login-required app, go to the login page again.
    const other = await newPage();
    const logoutUrl = await page.evaluate(() => window.kc.createLogoutUrl({ redirectUri: `${location.origin}/silent-check-sso.html` }));
    await other.goto(logoutUrl);
    await other.waitForURL((u) => u.href.startsWith(spa.origin));
    await page.waitForURL((u) => u.href.startsWith(`${KC}/realms/${REALM}/protocol/openid-connect/auth`), { timeout: 15000 });
    assert.equal(await page.locator('#kc-login').count(), 1);
    await other.close();
  });

  async function statusFrame(p) {
    await p.goto(`${spa.origin}/silent-check-sso.html`);
    const src = `${KC}/realms/${REALM}/protocol/openid-connect/login-status-iframe.html`;
    await p.evaluate((src) => new Promise((resolve) => {
      const frame = document.createElement('iframe');
      frame.onload = resolve;
      frame.src = src;
      document.body.appendChild(frame);
    }), src);
    return p.frames().find((f) => f.url() === src);
  }

  async function ask(p, message) {
    return p.evaluate((message) => new Promise((resolve) => {
      const frame = document.querySelector('iframe');
      const listener = (e) => {
        if (e.source !== frame.contentWindow) return;
        window.removeEventListener('message', listener);
        resolve(e.data);
      };
      window.addEventListener('message', listener);
      frame.contentWindow.postMessage(message, new URL(frame.src).origin);
    }), message);
  }

  test('the session-status iframe without a session cookie: "changed" for a session id, "unchanged" for none', async () => {
    const p = await newPage();
    await statusFrame(p);
    assert.equal(await ask(p, `${SPA_CLIENT} a-session-that-ended`), 'changed');
    assert.equal(await ask(p, `${SPA_CLIENT} `), 'unchanged');
    await p.close();
  });

  test('the session-status iframe refuses a client that does not allow the origin', async () => {
    const p = await newPage();
    await statusFrame(p);
    assert.equal(await ask(p, `${OTHER_CLIENT} x`), 'error');
    await p.close();
  });

  test("the iframe's own SHA-256 (for pages without Web Crypto) agrees with Web Crypto", async () => {
    const p = await newPage();
    const frame = await statusFrame(p);
    const same = await frame.evaluate(async () => {
      const inputs = ['', 'abc', 'a'.repeat(55), 'b'.repeat(56), 'c'.repeat(64), 'ü-session-✓'.repeat(9)];
      const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
      for (const s of inputs) {
        const data = new TextEncoder().encode(s);
        if (hex(await crypto.subtle.digest('SHA-256', data)) !== hex(window.__portcullisSha256(data))) return s;
      }
      return true;
    });
    assert.equal(same, true);
    await p.close();
  });

  test('logout() ends the session: its refresh token is dead, check-sso is not authenticated', async () => {
    const p = await newPage();
    await p.goto(appUrl(SPA_CLIENT, { onLoad: 'login-required', pkceMethod: 'S256' }));
    await signIn(p);
    assert.deepEqual(await outcome(p), { authenticated: true });
    const refreshToken = await p.evaluate(() => window.kc.refreshToken);
    await Promise.all([
      p.waitForURL((u) => u.href.startsWith(`${spa.origin}/silent-check-sso.html`)),
      p.evaluate(() => window.kc.logout({ redirectUri: `${location.origin}/silent-check-sso.html` })),
    ]);
    const cookies = await context.cookies(KC);
    assert.ok(!cookies.some((c) => c.name === 'KEYCLOAK_IDENTITY' && c.value), JSON.stringify(cookies));
    assert.ok(!cookies.some((c) => c.name === 'KEYCLOAK_SESSION' && c.value), JSON.stringify(cookies));
    const refresh = await fetch(`${API}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: SPA_CLIENT, refresh_token: refreshToken }),
    });
    assert.equal(refresh.status, 400);
    const q = await newPage();
    await q.goto(appUrl(SPA_CLIENT, { onLoad: 'check-sso', pkceMethod: 'S256', silentCheckSsoRedirectUri: true }));
    assert.deepEqual(await outcome(q), { authenticated: false });
    await p.close();
    await q.close();
  });
});

describe('CORS from the page', () => {
  // fetch() from the SPA's origin: it succeeds only when Portcullis answers with CORS headers
  // that the browser accepts (exact origin, credentials, preflight for Authorization).
  async function fromPage(clientId) {
    const p = await newPage();
    await p.goto(`${spa.origin}/silent-check-sso.html`);
    const r = await p.evaluate(async ({ kc, realm, clientId }) => {
      const base = `${kc}/realms/${realm}`;
      const out = {};
      try {
        const t = await fetch(`${base}/protocol/openid-connect/token`, {
          method: 'POST', credentials: 'include',
          body: new URLSearchParams({ grant_type: 'password', client_id: clientId, username: 'alice', password: 'alice-pw', scope: 'openid' }),
        });
        out.token = t.status;
        const { access_token: at } = await t.json();
        const auth = { headers: { authorization: `Bearer ${at}`, accept: 'application/json' } };
        out.userinfo = (await fetch(`${base}/protocol/openid-connect/userinfo`, auth)).status;
        out.account = (await (await fetch(`${base}/account`, auth)).json()).username;
      } catch (e) {
        out.error = String(e);
      }
      return out;
    }, { kc: KC, realm: REALM, clientId });
    await p.close();
    return r;
  }

  test("explicit web origins: token, userinfo and account readable from that origin", async () => {
    assert.deepEqual(await fromPage(EXPLICIT_CLIENT), { token: 200, userinfo: 200, account: 'alice' });
  });

  test('a client that does not allow the origin: the browser refuses the token response', async () => {
    const r = await fromPage(OTHER_CLIENT);
    assert.match(r.error ?? '', /Failed to fetch/);
    assert.equal(r.token, undefined);
  });

  test('the server sends no CORS header to a disallowed origin', async () => {
    const form = new URLSearchParams({ grant_type: 'password', client_id: OTHER_CLIENT, username: 'alice', password: 'alice-pw' });
    const r = await fetch(`${API}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST', headers: { origin: spa.origin }, body: form,
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    const ok = await fetch(`${API}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST', headers: { origin: 'https://other.example' }, body: form,
    });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://other.example');
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
  });
});
