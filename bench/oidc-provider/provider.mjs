// node oidc-provider as the comparison point of bench/tokens.sh: one process serving
// JWT access tokens (RFC 9068 through resource indicators) signed with RS256, ES256 or
// EdDSA depending on the `resource` asked for, so the same wrk runs as against Portcullis
// can be pointed at it. Keys are generated at start; storage is the provider's in-memory
// adapter. Prints one line `READY <json>` with the port and a refresh token (created through
// the provider's own models: the same grant a code flow with offline_access would leave).
// oidc-provider leaves the login page to the application: this one serves a plain form at
// /interaction/{uid} and checks the password against an Argon2id hash with the parameters
// Portcullis uses (m=19456 KiB, t=2, p=1), computed by hash-wasm (WebAssembly; npm's native
// argon2 package needs prebuilt binaries from GitHub, which this machine cannot reach).
//
//   node provider.mjs [port]
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { argon2id, argon2Verify } from 'hash-wasm';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 18082);
const issuer = `http://127.0.0.1:${port}`;

const jwk = (type, opts, alg) => ({
  ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
});
const keys = [
  jwk('rsa', { modulusLength: 2048 }, 'RS256'),
  jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  jwk('ed25519', {}, 'EdDSA'),
];

const resources = {
  'urn:bench:rs': 'RS256',
  'urn:bench:es': 'ES256',
  'urn:bench:ed': 'EdDSA',
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-api',
      client_secret: 'bench-secret',
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      response_types: ['code'],
    },
  ],
  jwks: { keys },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, preferred_username: sub }),
  }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:bench:rs',
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        const alg = resources[resource];
        if (!alg) throw new Error(`unknown resource ${resource}`);
        return { scope: 'api', accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
      },
    },
  },
  rotateRefreshToken: false,
  ttl: { AccessToken: 300, ClientCredentials: 300, RefreshToken: 86400, IdToken: 300, Grant: 86400 },
});

// A refresh token for bench-user as a code flow with `openid offline_access` would leave it.
const grant = new provider.Grant({ accountId: 'bench-user', clientId: 'bench-api' });
grant.addOIDCScope('openid offline_access');
grant.addResourceScope('urn:bench:rs', 'api');
const grantId = await grant.save();
const client = await provider.Client.find('bench-api');
const refresh = await new provider.RefreshToken({
  accountId: 'bench-user',
  client,
  grantId,
  gty: 'authorization_code',
  scope: 'openid offline_access api',
  resource: 'urn:bench:rs',
  authTime: Math.floor(Date.now() / 1000),
  expiresWithSession: false,
}).save();

// bench-user's stored password.
const stored = await argon2id({
  password: 'bench-password',
  salt: new Uint8Array(16).map(() => Math.floor(Math.random() * 256)),
  parallelism: 1,
  iterations: 2,
  memorySize: 19456,
  hashLength: 32,
  outputType: 'encoded',
});

const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};

// The login page: GET shows the form, POST checks the password and finishes the interaction
// with login and consent (the grant the client asked for), as an application would.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><form method="post" action="/interaction/${details.uid}">
<label>Username <input name="username"></label><label>Password <input name="password" type="password"></label>
<button>Sign in</button></form>`);
    return;
  }
  const form = await readForm(req);
  const ok = form.get('username') === 'bench-user'
    && await argon2Verify({ password: form.get('password') ?? '', hash: stored });
  if (!ok) {
    res.statusCode = 200;
    res.end('Invalid username or password.');
    return;
  }
  const grant = new provider.Grant({ accountId: 'bench-user', clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  grant.addResourceScope('urn:bench:rs', 'api');
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: 'bench-user' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((e) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  } else {
    callback(req, res);
  }
}).listen(port, '127.0.0.1', () => {
  console.log(`READY ${JSON.stringify({ port, refresh })}`);
});
