// @keycloak/keycloak-admin-client (Keycloak's own admin client, the one the admin console uses)
// against Portcullis' Admin REST API, driven as against Keycloak 26. Each test makes its own
// realm (node-<uuid8>) and deletes it. Statuses and bodies: /work/notes/admin-api-spec.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';

const BASE = process.env.PORTCULLIS_URL;
const unique = (prefix = 'node') => `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 8)}`;
const names = (items, key = 'name') => new Set(items.map((x) => x[key]));
const person = (username, extra = {}) => ({
  username, enabled: true, email: `${username}@example.com`,
  firstName: username[0].toUpperCase() + username.slice(1), lastName: 'Tester', ...extra,
});

async function masterAdmin() {
  const kc = new KcAdminClient({ baseUrl: BASE, realmName: 'master' });
  await kc.auth({ username: 'admin', password: 'admin', grantType: 'password', clientId: 'admin-cli' });
  return kc;
}

// Run fn against a fresh realm, then delete it.
async function withRealm(fn) {
  const kc = await masterAdmin();
  const realm = unique();
  assert.deepEqual(await kc.realms.create({ realm, enabled: true }), { realmName: realm });
  kc.setConfig({ realmName: realm });
  try {
    await fn(kc, realm);
  } finally {
    kc.setConfig({ realmName: 'master' });
    await kc.realms.del({ realm }).catch((e) => { if (e?.response?.status !== 404) throw e; });
  }
}

// The client throws NetworkError carrying the fetch Response and the parsed body.
async function rejects(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof NetworkError, `expected NetworkError, got ${e}`);
    assert.equal(e.response.status, status, JSON.stringify(e.responseData));
    return e.responseData;
  }
  assert.fail(`expected HTTP ${status}`);
}

test('realms: create, find, findOne, update, duplicate, delete', async () => {
  const kc = await masterAdmin();
  const realm = unique();
  try {
    assert.deepEqual(await kc.realms.create({ realm, enabled: true, displayName: 'Node Realm' }), { realmName: realm });
    // RealmsAdminResource.importRealm: 409 {"errorMessage":"Conflict detected. See logs for details"}
    const dup = await rejects(kc.realms.create({ realm }), 409);
    assert.ok(['Conflict detected. See logs for details', `Realm ${realm} already exists`].includes(dup.errorMessage), JSON.stringify(dup));

    const all = await kc.realms.find();
    assert.ok(names(all, 'realm').has('master'));
    assert.ok(names(all, 'realm').has(realm));

    const one = await kc.realms.findOne({ realm });
    assert.equal(one.realm, realm);
    assert.equal(one.enabled, true);
    assert.equal(one.displayName, 'Node Realm');
    assert.ok(one.id);

    // Partial update keeps the rest.
    await kc.realms.update({ realm }, { displayName: 'Node Renamed', accessTokenLifespan: 900 });
    const after = await kc.realms.findOne({ realm });
    assert.equal(after.displayName, 'Node Renamed');
    assert.equal(after.accessTokenLifespan, 900);
    for (const key of ['id', 'realm', 'enabled', 'sslRequired', 'ssoSessionIdleTimeout', 'registrationAllowed', 'loginWithEmailAllowed']) {
      assert.deepEqual(after[key], one[key], key);
    }

    await kc.realms.del({ realm });
    // findOne maps 404 to null; without catchNotFound the status is 404 {"error":"Realm not found."}
    assert.equal(await kc.realms.findOne({ realm }), null);
    const gone = await rejects(kc.realms.del({ realm }), 404);
    assert.equal(gone.error, 'Realm not found.');
  } finally {
    await kc.realms.del({ realm }).catch(() => {});
  }
});

test('clients: create, duplicate 409, find by clientId, update, secret, roles, mapper, scopes, delete', () => withRealm(async (kc) => {
  const clients = await kc.clients.find();
  for (const id of ['account', 'account-console', 'admin-cli', 'broker', 'realm-management', 'security-admin-console']) {
    assert.ok(names(clients, 'clientId').has(id), id);
  }

  const { id } = await kc.clients.create({ clientId: 'node-app', name: 'Node App', publicClient: false, redirectUris: ['http://localhost/*'] });
  assert.ok(id);
  // ClientsResource.createClient: ErrorResponse.exists("Client node-app already exists")
  const dup = await rejects(kc.clients.create({ clientId: 'node-app' }), 409);
  assert.deepEqual(dup, { errorMessage: 'Client node-app already exists' });

  const found = await kc.clients.find({ clientId: 'node-app' });
  assert.deepEqual(found.map((c) => c.id), [id]);
  assert.deepEqual(await kc.clients.find({ clientId: 'node-ap' }), []);

  const one = await kc.clients.findOne({ id });
  assert.equal(one.clientId, 'node-app');
  assert.equal(one.name, 'Node App');
  assert.equal(one.publicClient, false);
  assert.equal(await kc.clients.findOne({ id: 'does-not-exist' }), null);

  await kc.clients.update({ id }, { name: 'Node App 2' });
  const updated = await kc.clients.findOne({ id });
  assert.equal(updated.name, 'Node App 2');
  assert.deepEqual(updated.redirectUris, ['http://localhost/*']);

  const secret = await kc.clients.getClientSecret({ id });
  assert.equal(secret.type, 'secret');
  assert.ok(secret.value);
  const fresh = await kc.clients.generateNewClientSecret({ id });
  assert.equal(fresh.type, 'secret');
  assert.notEqual(fresh.value, secret.value);
  assert.deepEqual(await kc.clients.getClientSecret({ id }), fresh);

  const svc = await kc.clients.create({ clientId: 'node-svc', publicClient: false, serviceAccountsEnabled: true });
  assert.equal((await kc.clients.getServiceAccountUser({ id: svc.id })).username, 'service-account-node-svc');

  assert.deepEqual(await kc.clients.createRole({ id, name: 'node-reader', description: 'reads' }), { roleName: 'node-reader' });
  const roleDup = await rejects(kc.clients.createRole({ id, name: 'node-reader' }), 409);
  assert.deepEqual(roleDup, { errorMessage: 'Role with name node-reader already exists' });
  assert.deepEqual([...names(await kc.clients.listRoles({ id }))], ['node-reader']);
  const role = await kc.clients.findRole({ id, roleName: 'node-reader' });
  assert.equal(role.clientRole, true);
  assert.equal(role.containerId, id);
  await kc.clients.delRole({ id, roleName: 'node-reader' });
  assert.deepEqual(await kc.clients.listRoles({ id }), []);

  await kc.clients.addProtocolMapper({ id }, {
    name: 'node-dept', protocol: 'openid-connect', protocolMapper: 'oidc-usermodel-attribute-mapper',
    config: { 'user.attribute': 'dept', 'claim.name': 'dept', 'jsonType.label': 'String', 'access.token.claim': 'true' },
  });
  const mappers = await kc.clients.listProtocolMappers({ id });
  assert.deepEqual(mappers.map((m) => [m.name, m.protocolMapper]), [['node-dept', 'oidc-usermodel-attribute-mapper']]);

  const scope = await kc.clientScopes.create({ name: 'node-extra', protocol: 'openid-connect' });
  await kc.clients.addDefaultClientScope({ id, clientScopeId: scope.id });
  assert.ok(names(await kc.clients.listDefaultClientScopes({ id })).has('node-extra'));
  await kc.clients.delDefaultClientScope({ id, clientScopeId: scope.id });
  assert.ok(!names(await kc.clients.listDefaultClientScopes({ id })).has('node-extra'));

  await kc.clients.del({ id });
  assert.equal(await kc.clients.findOne({ id }), null);
  const gone = await rejects(kc.clients.del({ id }), 404);
  assert.equal(gone.error, 'Could not find client');
}));

test('users: create, duplicate 409, find, count, update, password, roles, groups, delete', () => withRealm(async (kc, realm) => {
  const { id } = await kc.users.create(person('nina'));
  assert.ok(id);
  await kc.users.create(person('nino', { email: 'nino@example.org' }));
  await kc.users.create(person('zed'));
  // UsersResource.createUser: ErrorResponse.exists("User exists with same username")
  const dup = await rejects(kc.users.create(person('nina')), 409);
  assert.deepEqual(dup, { errorMessage: 'User exists with same username' });

  assert.deepEqual([...names(await kc.users.find({ search: 'nin' }), 'username')].sort(), ['nina', 'nino']);
  assert.deepEqual((await kc.users.find({ username: 'nina', exact: true })).map((u) => u.id), [id]);
  assert.deepEqual((await kc.users.find({ email: 'nino@example.org' })).map((u) => u.username), ['nino']);
  assert.deepEqual((await kc.users.find({ first: 0, max: 2 })).map((u) => u.username), ['nina', 'nino']);
  assert.deepEqual((await kc.users.find({ first: 2, max: 2 })).map((u) => u.username), ['zed']);
  assert.equal(await kc.users.count(), 3);
  assert.equal(await kc.users.count({ search: 'nin' }), 2);

  const nina = await kc.users.findOne({ id });
  assert.equal(nina.username, 'nina');
  assert.equal(nina.email, 'nina@example.com');
  assert.equal(nina.enabled, true);
  assert.equal(await kc.users.findOne({ id: 'does-not-exist' }), null);

  await kc.users.update({ id }, { firstName: 'Nina B' });
  const updated = await kc.users.findOne({ id });
  assert.equal(updated.firstName, 'Nina B');
  assert.equal(updated.lastName, 'Tester');
  assert.equal(updated.email, 'nina@example.com');

  await kc.users.resetPassword({ id, credential: { type: 'password', value: 'nina-pw', temporary: false } });
  // The new password works at the token endpoint of the realm's admin-cli (public, direct grants).
  const token = await fetch(`${BASE}/realms/${realm}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'nina', password: 'nina-pw' }),
  });
  assert.equal(token.status, 200);

  await kc.roles.create({ name: 'node-role' });
  const role = await kc.roles.findOneByName({ name: 'node-role' });
  await kc.users.addRealmRoleMappings({ id, roles: [{ id: role.id, name: role.name }] });
  const mapped = names(await kc.users.listRealmRoleMappings({ id }));
  assert.ok(mapped.has('node-role'));
  assert.ok(mapped.has(`default-roles-${realm}`));
  await kc.users.delRealmRoleMappings({ id, roles: [{ id: role.id, name: role.name }] });
  assert.ok(!names(await kc.users.listRealmRoleMappings({ id })).has('node-role'));

  const group = await kc.groups.create({ name: 'node-team' });
  await kc.users.addToGroup({ id, groupId: group.id });
  assert.deepEqual((await kc.users.listGroups({ id })).map((g) => [g.id, g.path]), [[group.id, '/node-team']]);
  await kc.users.delFromGroup({ id, groupId: group.id });
  assert.deepEqual(await kc.users.listGroups({ id }), []);

  await kc.users.del({ id });
  assert.equal(await kc.users.findOne({ id }), null);
  const gone = await rejects(kc.users.del({ id }), 404);
  assert.equal(gone.error, 'User not found');
  assert.equal(await kc.users.count(), 2);
}));

test('roles: create, duplicate 409, find, update, composites, members, delete', () => withRealm(async (kc, realm) => {
  assert.ok(names(await kc.roles.find()).has(`default-roles-${realm}`));
  assert.deepEqual(await kc.roles.create({ name: 'node-base', description: 'base' }), { roleName: 'node-base' });
  const dup = await rejects(kc.roles.create({ name: 'node-base' }), 409);
  assert.deepEqual(dup, { errorMessage: 'Role with name node-base already exists' });

  const base = await kc.roles.findOneByName({ name: 'node-base' });
  assert.equal(base.description, 'base');
  assert.equal(base.composite, false);
  assert.equal(base.clientRole, false);
  assert.ok(names(await kc.roles.find({ search: 'node-' })).has('node-base'));

  await kc.roles.updateByName({ name: 'node-base' }, { name: 'node-base', description: 'changed' });
  assert.equal((await kc.roles.findOneByName({ name: 'node-base' })).description, 'changed');

  // Composites go through /roles-by-id/{id}/composites in this client.
  await kc.roles.create({ name: 'node-admin' });
  const adminRole = await kc.roles.findOneByName({ name: 'node-admin' });
  await kc.roles.createComposite({ roleId: adminRole.id }, [base]);
  assert.deepEqual([...names(await kc.roles.getCompositeRoles({ id: adminRole.id }))], ['node-base']);
  assert.equal((await kc.roles.findOneByName({ name: 'node-admin' })).composite, true);

  const { id: uid } = await kc.users.create(person('ollie'));
  await kc.users.addRealmRoleMappings({ id: uid, roles: [{ id: adminRole.id, name: adminRole.name }] });
  assert.deepEqual((await kc.roles.findUsersWithRole({ name: 'node-admin' })).map((u) => u.username), ['ollie']);
  assert.ok(names(await kc.users.listCompositeRealmRoleMappings({ id: uid })).has('node-base'));

  await kc.roles.delByName({ name: 'node-base' });
  assert.equal(await kc.roles.findOneByName({ name: 'node-base' }), null);
  const gone = await rejects(kc.roles.delByName({ name: 'node-base' }), 404);
  assert.equal(gone.error, 'Could not find role');
}));

test('groups: create, duplicate 409, child group, tree, members, role mapping, delete', () => withRealm(async (kc) => {
  const parent = await kc.groups.create({ name: 'node-parent' });
  assert.ok(parent.id);
  const dup = await rejects(kc.groups.create({ name: 'node-parent' }), 409);
  assert.deepEqual(dup, { errorMessage: "Top level group named 'node-parent' already exists." });

  const child = await kc.groups.createChildGroup({ id: parent.id }, { name: 'node-child' });
  assert.ok(child.id);
  const siblingDup = await rejects(kc.groups.createChildGroup({ id: parent.id }, { name: 'node-child' }), 409);
  assert.deepEqual(siblingDup, { errorMessage: "Sibling group named 'node-child' already exists." });

  const top = await kc.groups.find();
  assert.deepEqual(top.map((g) => [g.id, g.path, g.subGroupCount]), [[parent.id, '/node-parent', 1]]);
  const subs = await kc.groups.listSubGroups({ parentId: parent.id });
  assert.deepEqual(subs.map((g) => [g.id, g.name, g.path]), [[child.id, 'node-child', '/node-parent/node-child']]);
  const one = await kc.groups.findOne({ id: child.id });
  assert.equal(one.path, '/node-parent/node-child');
  assert.equal(one.parentId, parent.id);

  const { id: uid } = await kc.users.create(person('pia'));
  await kc.users.addToGroup({ id: uid, groupId: child.id });
  assert.deepEqual((await kc.groups.listMembers({ id: child.id })).map((u) => u.username), ['pia']);
  assert.deepEqual(await kc.groups.listMembers({ id: parent.id }), []);

  await kc.roles.create({ name: 'node-grp-role' });
  const role = await kc.roles.findOneByName({ name: 'node-grp-role' });
  await kc.groups.addRealmRoleMappings({ id: child.id, roles: [{ id: role.id, name: role.name }] });
  assert.deepEqual([...names(await kc.groups.listRealmRoleMappings({ id: child.id }))], ['node-grp-role']);

  await kc.groups.update({ id: child.id }, { name: 'node-child2' });
  assert.equal((await kc.groups.findOne({ id: child.id })).path, '/node-parent/node-child2');

  await kc.groups.del({ id: parent.id });
  assert.equal(await kc.groups.findOne({ id: child.id }), null);
  assert.deepEqual(await kc.groups.find(), []);
  const gone = await rejects(kc.groups.del({ id: parent.id }), 404);
  assert.equal(gone.error, 'Could not find group by id');
}));

test('client scopes: create, duplicate 409, find, mapper, realm defaults, delete', () => withRealm(async (kc) => {
  const builtin = names(await kc.clientScopes.find());
  for (const n of ['profile', 'email', 'roles', 'web-origins']) assert.ok(builtin.has(n), n);

  const { id } = await kc.clientScopes.create({ name: 'node-claims', description: 'node scope', protocol: 'openid-connect' });
  assert.ok(id);
  const dup = await rejects(kc.clientScopes.create({ name: 'node-claims', protocol: 'openid-connect' }), 409);
  assert.deepEqual(dup, { errorMessage: 'Client Scope node-claims already exists' });

  const one = await kc.clientScopes.findOne({ id });
  assert.equal(one.name, 'node-claims');
  assert.equal(one.description, 'node scope');
  assert.equal(one.protocol, 'openid-connect');
  assert.ok(names(await kc.clientScopes.find()).has('node-claims'));

  await kc.clientScopes.addProtocolMapper({ id }, {
    name: 'node-team', protocol: 'openid-connect', protocolMapper: 'oidc-hardcoded-claim-mapper',
    config: { 'claim.name': 'team', 'claim.value': 'node', 'jsonType.label': 'String', 'access.token.claim': 'true' },
  });
  assert.deepEqual((await kc.clientScopes.listProtocolMappers({ id })).map((m) => m.name), ['node-team']);

  await kc.clientScopes.addDefaultClientScope({ id });
  assert.ok(names(await kc.clientScopes.listDefaultClientScopes()).has('node-claims'));
  await kc.clientScopes.delDefaultClientScope({ id });
  assert.ok(!names(await kc.clientScopes.listDefaultClientScopes()).has('node-claims'));

  await kc.clientScopes.del({ id });
  assert.equal(await kc.clientScopes.findOne({ id }), null);
  const gone = await rejects(kc.clientScopes.del({ id }), 404);
  assert.equal(gone.error, 'Could not find client scope');
}));
