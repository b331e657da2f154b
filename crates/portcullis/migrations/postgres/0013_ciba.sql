-- OpenID Connect CIBA (poll mode) authentication requests. The auth_req_id is a bearer
-- secret of the client: only its SHA-256 is kept. `auth_result_id` is the `jti` of the bearer
-- token the authentication device presents at the callback, unique so that it names one
-- request. `status` moves pending -> approved | denied, each step one conditional UPDATE, and
-- an approved request is deleted when its tokens are issued, so two nodes cannot both decide
-- or both redeem.
CREATE TABLE ciba_request (
    auth_req_hash TEXT PRIMARY KEY,
    auth_result_id TEXT NOT NULL UNIQUE,
    realm_id TEXT NOT NULL REFERENCES realm(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    poll_interval BIGINT NOT NULL,
    last_poll BIGINT NOT NULL,
    status TEXT NOT NULL
);
