// node oidc-provider as the comparison point of bench/tokens.sh: one process serving
// JWT access tokens (RFC 9068 through resource indicators) signed with RS256, ES256 or
// EdDSA depending on the `resource` asked for, so the same wrk runs as against Portcullis
// can be pointed at it. Keys are generated at start; storage is the provider's in-memory
// adapter. Prints one line `READY <json>` with the port and a refresh token (created through
// the provider's own models: the same grant a code flow with offline_access would leave).
//
//   node provider.mjs [port]
import { generateKeyPairSync } from 'node:crypto';
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

provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${JSON.stringify({ port, refresh })}`);
});
