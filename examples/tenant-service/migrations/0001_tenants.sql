-- The tenant service's own tables (PostgreSQL). Identity data (users, passwords, client
-- secrets) lives in Portcullis; this service keeps only what it needs to route and audit.

-- One row per tenant: its id (the slug), its realm and the issuer its tokens carry.
CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    realm_name TEXT NOT NULL UNIQUE,
    issuer_url TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The audit ledger: append-only records of every provisioning request, the authorization
-- decision taken on it and what it created. Never holds passwords or client secrets.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id  UUID NOT NULL,
    event_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_realm TEXT,
    action      TEXT NOT NULL,
    tenant_id   TEXT,
    decision    TEXT,
    detail      JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_events_request ON audit_events (request_id);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, at);
