// One whole browser login (authorization endpoint, login page, credentials, redirects, code
// exchange with PKCE), shared by bench/login.mjs and bench/soak.mjs.
//
//   import { browserLogin } from './browser-login.mjs';
//   const login = browserLogin({ authEndpoint, tokenEndpoint, clientId, secret, redirectUri, user, password });
//   await login();   // throws on any unexpected answer
// With `otpSecret` (the credential's `secretData` value, as Keycloak stores it), the OTP page
// that follows the password is answered with the current TOTP code (HMAC-SHA1, 6 digits, 30 s).
import { createHash, createHmac, randomBytes } from 'node:crypto';

export function totp(secret, now = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const h = createHmac('sha1', Buffer.from(secret, 'utf8')).update(counter).digest();
  const o = h[h.length - 1] & 0x0f;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

export function browserLogin({ authEndpoint, tokenEndpoint, clientId, secret, redirectUri, user, password, otpSecret }) {
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

  // One request; then redirects are followed (GET, cookies kept) until a page, or until the
  // redirect URI, whose URL is returned instead of being fetched.
  async function visit(jar, url, init = {}) {
    let res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: jar.header() } });
    for (let hops = 0; ; hops++) {
      jar.take(res);
      const location = res.headers.get('location');
      if (!(res.status >= 300 && res.status < 400 && location)) return { res, url };
      await res.arrayBuffer();
      url = new URL(location, url).href;
      if (url.startsWith(redirectUri)) return { res, url, done: true };
      if (hops > 10) throw new Error('too many redirects');
      res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    }
  }

  return async function login() {
    const jar = new Jar();
    const verifier = b64u(randomBytes(32));
    const challenge = b64u(createHash('sha256').update(verifier).digest());
    const state = b64u(randomBytes(8));
    const auth = `${authEndpoint}?` + new URLSearchParams({
      client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: redirectUri,
      state, code_challenge: challenge, code_challenge_method: 'S256',
    });
    const page = await visit(jar, auth);
    const html = await page.res.text();
    if (page.res.status !== 200) throw new Error(`login page: ${page.res.status}`);
    const action = new URL(unescape(html.match(/action="([^"]*)"/)[1]), page.url);
    const form = new URLSearchParams({ username: user, password });
    const code = field(html, 'session_code');
    if (code) form.set('session_code', code);
    let posted = await visit(jar, action, {
      method: 'POST', body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (otpSecret) {
      const otpPage = await posted.res.text();
      if (posted.done || !otpPage.includes('name="otp"')) throw new Error(`no OTP page: ${posted.res.status}`);
      const otpAction = new URL(unescape(otpPage.match(/action="([^"]*)"/)[1]), posted.url);
      const otpForm = new URLSearchParams({ otp: totp(otpSecret) });
      const otpCode = field(otpPage, 'session_code');
      if (otpCode) otpForm.set('session_code', otpCode);
      posted = await visit(jar, otpAction, {
        method: 'POST', body: otpForm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    }
    if (!posted.done) throw new Error(`credentials: ${posted.res.status}`);
    const back = new URL(posted.url);
    if (back.searchParams.get('state') !== state) throw new Error(`state mismatch: ${posted.url}`);
    const token = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: back.searchParams.get('code'),
        redirect_uri: redirectUri, code_verifier: verifier,
      }),
    });
    const body = await token.json();
    if (token.status !== 200 || !body.access_token) throw new Error(`token: ${token.status} ${JSON.stringify(body)}`);
  };
}
