-- Keycloak 26's organization invitations (`OrganizationInvitationEntity`): one row per
-- invitation sent, its id the `jti` of the invitation's action token. Listed, read, resent and
-- deleted through the Admin API; removed when the invitation is accepted. Pending until
-- `expires_at` (seconds), then expired (still listed, as Keycloak lists them).
CREATE TABLE org_invitation (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organization(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    invite_link TEXT
);
CREATE INDEX org_invitation_by_org_email ON org_invitation (organization_id, email);
