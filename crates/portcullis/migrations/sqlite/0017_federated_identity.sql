-- The links of users to identity providers (Keycloak's FEDERATED_IDENTITY table), kept beside
-- the user's JSON document (`federatedIdentities`, the source of truth) on every user write, so
-- that a brokered login finds its user by (realm, provider alias, provider's user id) at once.
-- One user per provider identity, as Keycloak's primary key; a user's links go with the user.
CREATE TABLE federated_identity (
    realm_id TEXT NOT NULL,
    identity_provider TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES user_entity(id) ON DELETE CASCADE,
    PRIMARY KEY (realm_id, identity_provider, provider_user_id)
);
CREATE INDEX federated_identity_user ON federated_identity (user_id);
-- The links of users stored before this table.
INSERT OR IGNORE INTO federated_identity (realm_id, identity_provider, provider_user_id, user_id)
SELECT u.realm_id, json_extract(f.value, '$.identityProvider'), json_extract(f.value, '$.userId'), u.id
FROM user_entity u, json_each(u.representation, '$.federatedIdentities') f
WHERE json_valid(u.representation)
  AND json_type(u.representation, '$.federatedIdentities') = 'array'
  AND json_extract(f.value, '$.identityProvider') IS NOT NULL
  AND json_extract(f.value, '$.userId') IS NOT NULL;
