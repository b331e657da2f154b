//! Entry points for the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`tests/it/fuzz_corpus.rs`): each takes the raw bytes an attacker controls and drives them
//! through the same production functions the server runs on that input. Nothing here is
//! a copy of a parser; these are thin adapters that turn bytes into the arguments.
//!
//! Each function must return without panicking, whatever the bytes; the result is dropped.
//! The realm the request-shaped targets run against ([`fixture_realm`]) is built once per
//! process through the import path.

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderMap, HeaderValue, Uri};
use serde_json::{json, Value};

use crate::realm::import;
use crate::realm::snapshot::RealmSnapshot;
use crate::store::StoredRealm;

/// A fuzz target's entry point: the raw input, no result.
pub type Target = fn(&[u8]);

/// The targets, by name: the folder names under `fuzz/corpus/` and the fuzz target names.
pub const TARGETS: &[(&str, Target)] = &[
    ("realm_import", realm_import),
    ("jws", jws),
    ("client_jwks", client_jwks),
    ("token_form", token_form),
    ("authorize_query", authorize_query),
    ("registration", registration),
    ("redirect_uri", redirect_uri),
    ("password_policy", password_policy),
    ("search_query", search_query),
    ("cookies", cookies),
];

/// The target of `name`, if there is one.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The realm the request-shaped targets run against: a confidential client `app` with
/// exact, wildcard and relative redirect URIs, a public client `spa` (`+`), a password policy;
/// imported and built into a snapshot as the server does on start-up.
pub fn fixture_realm() -> Option<Arc<RealmSnapshot>> {
    static SNAP: OnceLock<Option<Arc<RealmSnapshot>>> = OnceLock::new();
    SNAP.get_or_init(|| {
        let rep = json!({
            "realm": "fuzz",
            "enabled": true,
            "passwordPolicy": "length(8) and digits(1) and notUsername and regexPattern(^[a-z].*)",
            "clients": [
                {
                    "clientId": "app",
                    "secret": "app-secret",
                    "rootUrl": "https://app.example",
                    "redirectUris": ["https://app.example/cb", "https://app.example/wild/*", "/rel/*"],
                    "webOrigins": ["+"],
                    "standardFlowEnabled": true,
                    "implicitFlowEnabled": true,
                    "directAccessGrantsEnabled": true,
                    "attributes": {"pkce.code.challenge.method": "S256"}
                },
                {
                    "clientId": "spa",
                    "publicClient": true,
                    "redirectUris": ["http://localhost:3000/*", "*"],
                    "webOrigins": ["+"]
                }
            ],
            "users": [{"username": "alice", "enabled": true, "attributes": {"dept": ["eng"]}}]
        });
        let mut prepared = import::prepare(rep).ok()?;
        // The realm as it is after its first use: with its RSA keys (`realm::lazy_keys`).
        let mut rep: crate::representation::RealmRepresentation =
            serde_json::from_str(&prepared.representation).ok()?;
        crate::realm::lazy_keys::fill(&mut rep, &prepared.name).ok()?;
        prepared.representation = serde_json::to_string(&rep).ok()?;
        snapshot(&prepared).map(Arc::new)
    })
    .clone()
}

fn snapshot(prepared: &import::PreparedRealm) -> Option<RealmSnapshot> {
    RealmSnapshot::build(&StoredRealm {
        id: prepared.id.clone(),
        name: prepared.name.clone(),
        version: 1,
        representation: prepared.representation.clone(),
    })
    .ok()
}

/// Splits `data` at its first newline: `(first line, rest)`.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// A realm file or Admin API body: read as `POST /admin/realms` reads it (Jackson's rules),
/// and as `--import-realm` reads a file (an object or an array), each realm prepared
/// (validated, completed, keys and password hashes) and built into a snapshot.
pub fn realm_import(data: &[u8]) {
    let shape = crate::admin::jackson::Shape::One(&crate::admin::jackson::REALM);
    if let Ok(value) = crate::admin::jackson::representation::<Value>(data, &shape) {
        if let Ok(prepared) = import::prepare(value) {
            let _ = snapshot(&prepared);
        }
    }
    if let Ok(values) = import::parse_file(data) {
        for v in values {
            if let Some(policy) = v.get("passwordPolicy").and_then(Value::as_str) {
                let _ = crate::policy::password::parse(policy);
            }
            if let Ok(prepared) = import::prepare(v) {
                let _ = snapshot(&prepared);
            }
        }
    }
}

/// A compact JWS as every JWT the server receives starts (access, refresh, ID token hints,
/// client assertions, CIBA requests, action tokens): parsed, then verified against the
/// fixture realm's asymmetric and HMAC keys, a client secret, and its public keys as client
/// keys.
pub fn jws(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = crate::crypto::jws::parse(token) else {
        return;
    };
    if let Some(snap) = fixture_realm() {
        let _ = parsed.verify(&snap.keys);
        let _ = parsed.verify_hmac(&snap.hmac_keys);
        let client_keys = crate::crypto::client_key::signature_keys(
            &serde_json::from_slice::<Value>(&snap.jwks).unwrap_or_default(),
            true,
        );
        let kid = parsed.header.get("kid").and_then(Value::as_str);
        let alg = parsed
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(k) = crate::crypto::client_key::select(&client_keys, kid, alg) {
            let _ = k.verify(&parsed);
        }
        for k in &client_keys {
            let _ = k.verify(&parsed);
        }
    }
    for alg in ["HS256", "HS384", "HS512", "none", "RS256"] {
        let _ = parsed.verify_with_secret(alg, b"app-secret");
    }
}

/// A client's key material from the outside: a JWKS (`jwks.url` answer or the `jwks.string`
/// attribute), else a PEM or base64 certificate or public key (`jwt.credential.certificate`).
pub fn client_jwks(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let keys = crate::crypto::client_key::signature_keys(&v, true);
        for k in &keys {
            let _ = k.algorithm_or_default();
        }
        let _ = crate::crypto::client_key::signature_keys(&v, false);
        let _ = crate::crypto::client_key::ClientKey::from_jwk(&v);
        return;
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(der) = crate::crypto::client_key::pem_or_base64(text) {
            let _ = crate::crypto::client_key::ClientKey::from_certificate(&der, None);
            let _ = crate::crypto::client_key::ClientKey::from_spki(&der, None);
        }
    }
    let _ = crate::crypto::client_key::ClientKey::from_certificate(data, None);
    let _ = crate::crypto::client_key::ClientKey::from_spki(data, None);
}

/// A form body of the token, PAR, introspection, revocation and logout endpoints: parsed
/// (duplicates, limits), then read as the token endpoint reads it.
pub fn token_form(data: &[u8]) {
    let _ = crate::oidc::form::Params::parse_with(data, &["audience", "resource"]);
    let Ok(params) = crate::oidc::form::Params::parse(data) else {
        return;
    };
    let _ = params.repeated();
    let _ = params.require("grant_type");
    let _ = params.all("scope");
    let mut headers = HeaderMap::new();
    if let Some(auth) = params
        .get("authorization")
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        headers.insert(header::AUTHORIZATION, auth);
    }
    let _ = crate::oidc::client_auth::claimed_client_id(&headers, &params);
    let _ = crate::oidc::bearer::from_header(&headers);
    if let Some(t) = params
        .get("refresh_token")
        .or(params.get("client_assertion"))
    {
        jws(t.as_bytes());
    }
}

/// The query string of the authorization endpoint: parsed as axum's `Query` reads it, then
/// the client, its redirect URI and the rest of the request checked against the fixture
/// realm (`AuthorizationEndpointChecker`).
pub fn authorize_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/realms/fuzz/protocol/openid-connect/auth?{query}").parse::<Uri>()
    else {
        return;
    };
    let Ok(axum::extract::Query(q)) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
    else {
        return;
    };
    let Ok(params) = crate::oidc::authorize::unique_params(&q) else {
        return;
    };
    if let Some(snap) = fixture_realm() {
        let _ = crate::oidc::authorize::check(&snap, params, "https://idp.example/realms/fuzz");
    }
}

/// A client registration body (Keycloak's representation and RFC 7591 metadata): read as an
/// object, stripped of what callers may not set, converted from OIDC metadata, and prepared
/// as a new client of the fixture realm.
pub fn registration(data: &[u8]) {
    let Ok(req) = crate::client_registration::json_object(data) else {
        return;
    };
    let Some(snap) = fixture_realm() else {
        return;
    };
    let req = crate::client_registration::strip(req);
    let _ = crate::realm::edit::prepare_new(&snap.rep, Value::Object(req.clone()));
    if let Ok(internal) = crate::client_registration::oidc_metadata::to_internal(&req) {
        let _ = crate::realm::edit::prepare_new(&snap.rep, Value::Object(internal));
    }
}

/// Redirect-URI matching: the first line is the requested URI, the next ones the client's
/// registered URIs (each also validated as the Admin API does), the fixture's root URL.
pub fn redirect_uri(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let requested = lines.next().unwrap_or_default();
    let registered: Vec<String> = lines.map(str::to_string).collect();
    for r in &registered {
        let _ = crate::realm::validate::redirect_uri(r);
    }
    let _ = crate::realm::validate::redirect_uri(requested);
    let _ = crate::oidc::redirect::has_dot_segment(requested);
    let _ = crate::oidc::redirect::has_response_params(requested);
    let client: crate::representation::ClientRepresentation = match serde_json::from_value(json!({
        "clientId": "c",
        "rootUrl": "https://app.example/",
        "redirectUris": registered,
    })) {
        Ok(c) => c,
        Err(_) => return,
    };
    let _ = crate::oidc::redirect::verify(&client, Some(requested));
    let _ = crate::oidc::redirect::verify(&client, None);
}

/// A password policy string (`passwordPolicy`), first line, and a password checked against
/// it, the rest.
pub fn password_policy(data: &[u8]) {
    let (policy, password) = split_line(data);
    let policy = String::from_utf8_lossy(policy);
    let password = String::from_utf8_lossy(password);
    if let Ok(rules) = crate::policy::password::parse(&policy) {
        let _ =
            crate::policy::password::check(&rules, &password, "alice", Some("alice@example.com"));
    }
    let _ = crate::policy::password::message_key(&password);
}

/// The query string of the user and organization searches (`search`, `q=key:value ...`,
/// `exact`, `first`, `max`): parsed as axum's `Query` reads it, then turned into the store
/// query and the attribute filter.
pub fn search_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = format!("/admin/realms/fuzz/users?{query}").parse::<Uri>() else {
        return;
    };
    if let Ok(axum::extract::Query(q)) =
        axum::extract::Query::<crate::admin::users::SearchQuery>::try_from_uri(&uri)
    {
        let _ = crate::admin::users::user_query(&q);
        let attrs = crate::admin::users::attribute_filter(&q);
        let user: crate::representation::UserRepresentation =
            serde_json::from_value(json!({"username": "alice", "attributes": {"dept": ["eng"]}}))
                .unwrap_or_default();
        let _ = crate::admin::users::matches_extra(&user, &attrs, None);
    }
    if let Ok(axum::extract::Query(q)) =
        axum::extract::Query::<crate::admin::organizations::ListQuery>::try_from_uri(&uri)
    {
        let _ = crate::admin::organizations::org_query(&q);
    }
    let _ = crate::admin::organizations::search_fields(query);
}

/// A `Cookie` header: the cookie values read by name, and `KEYCLOAK_IDENTITY`'s signature
/// checked against the fixture realm.
pub fn cookies(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(header::COOKIE, value);
    for name in [
        crate::authn::cookies::IDENTITY_COOKIE,
        crate::authn::cookies::SESSION_COOKIE,
        crate::authn::cookies::AUTH_SESSION_COOKIE,
    ] {
        let _ = crate::authn::cookies::cookie(&headers, name);
    }
    if let Some(snap) = fixture_realm() {
        let _ = crate::authn::cookies::sso_sid(&snap, &headers);
        let _ = crate::authn::cookies::identity_sid(&snap, &String::from_utf8_lossy(data));
    }
}
