// openid-client (panva, OpenID-certified) against Portcullis: discovery, client credentials,
// password, refresh, userinfo, introspection, revocation, and the code + PKCE flow with the
// login form filled in the way a browser would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

const BASE = process.env.PORTCULLIS_URL;
const ISSUER = new URL(`${BASE}/realms/compat`);
const insecure = { execute: [client.allowInsecureRequests] };

const confidential = () => client.discovery(ISSUER, 'compat-api', 'compat-api-secret', undefined, insecure);

test('discovery', async () => {
  const config = await confidential();
  const md = config.serverMetadata();
  assert.equal(md.issuer, ISSUER.href);
  assert.ok(md.grant_types_supported.includes('authorization_code'));
  assert.ok(md.code_challenge_methods_supported.includes('S256'));
});

test('client credentials, introspection, revocation', async () => {
  const config = await confidential();
  const tokens = await client.clientCredentialsGrant(config);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const intro = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(intro.active, true);
  assert.equal(intro.client_id, 'compat-api');
  await client.tokenRevocation(config, tokens.access_token);
  assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
});

test('password grant, ID token validation, userinfo, refresh', async () => {
  const config = await confidential();
  const tokens = await client.genericGrantRequest(config, 'password', { username: 'alice', password: 'alice-pw', scope: 'openid' });
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER.href);
  assert.equal(claims.aud, 'compat-api');
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.preferred_username, 'alice');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.equal(refreshed.claims().sub, claims.sub);
});

function cookieJar() {
  const jar = new Map();
  return {
    store(res) {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        jar.set(pair.slice(0, i), pair.slice(i + 1));
      }
    },
    header() { return [...jar].map(([k, v]) => `${k}=${v}`).join('; '); },
  };
}

test('authorization code with PKCE through the login page', async () => {
  const config = await client.discovery(ISSUER, 'compat-spa', undefined, client.None(), insecure);
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const redirect_uri = 'http://localhost:3000/callback';
  const url = client.buildAuthorizationUrl(config, { redirect_uri, scope: 'openid profile', code_challenge: challenge, code_challenge_method: 'S256', state, nonce });

  const jar = cookieJar();
  const page = await fetch(url, { redirect: 'manual' });
  jar.store(page);
  const html = await page.text();
  const action = new URL(html.match(/action="([^"]+)"/)[1].replaceAll('&amp;', '&'), BASE);
  const sessionCode = html.match(/name="session_code" value="([^"]+)"/)[1];
  const post = await fetch(action, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
    body: new URLSearchParams({ session_code: sessionCode, username: 'alice', password: 'alice-pw' }),
  });
  assert.equal(post.status, 302);
  const callback = new URL(post.headers.get('location'));
  assert.equal(callback.origin + callback.pathname, redirect_uri);

  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  const claims = tokens.claims();
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.azp, 'compat-spa');
  assert.ok(tokens.refresh_token);
});
