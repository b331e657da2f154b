//! A new realm's RSA keys (`rsa-generated`, `rsa-enc-generated`) are generated at their first
//! use rather than at creation; nothing a client sees may tell: the JWKS, the key providers,
//! the keys, the tokens and the export all show the same keys, generated once, also when two
//! nodes ask for them at the same time.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::http::{admin_token, call, get_json, post_form};
use crate::support::jwt::b64url;
use crate::support::{start_with, Backend, Data, TestServer};

const KEY_PROVIDERS: &str = "/components?type=org.keycloak.keys.KeyProvider";

/// A realm as a tenant service creates it: a name and one confidential client.
fn tenant(name: &str) -> Value {
    json!({
        "realm": name,
        "enabled": true,
        "clients": [{"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": true,
                     "publicClient": false}]
    })
}

async fn create(server: &TestServer, token: &str, name: &str) {
    let (s, body, _) = call(
        server,
        "POST",
        "/admin/realms",
        Some(token),
        Some(tenant(name)),
    )
    .await;
    assert_eq!(s, 201, "{body}");
}

async fn jwks(server: &TestServer, realm: &str) -> Value {
    let (s, body) =
        get_json(&server.url(&format!("/realms/{realm}/protocol/openid-connect/certs"))).await;
    assert_eq!(s, 200, "{body}");
    body
}

/// The JWK of `alg` in a JWKS (exactly one).
fn jwk<'a>(jwks: &'a Value, alg: &str) -> &'a Value {
    let found: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == alg)
        .collect();
    assert_eq!(found.len(), 1, "one {alg} key in {jwks}");
    found[0]
}

async fn client_credentials(server: &TestServer, realm: &str) -> String {
    let (s, body, _) = post_form(
        &server.url(&format!("/realms/{realm}/protocol/openid-connect/token")),
        Some(("svc", "svc-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Verifies an RS256 token's signature and issuer with the given JWK; returns its claims.
fn verify(token: &str, jwk: &Value, issuer: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        jwk["kid"].as_str(),
        "the token's kid"
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap()
        .claims
}

fn issuer(server: &TestServer, realm: &str) -> String {
    format!("{}/realms/{realm}", server.base)
}

/// The realm's key provider components, by provider id.
async fn providers(server: &TestServer, token: &str, realm: &str) -> Vec<Value> {
    let (s, body, _) = call(
        server,
        "GET",
        &format!("/admin/realms/{realm}{KEY_PROVIDERS}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn only<'a>(list: &'a [Value], provider: &str) -> &'a Value {
    let found: Vec<&Value> = list
        .iter()
        .filter(|c| c["providerId"] == provider)
        .collect();
    assert_eq!(found.len(), 1, "one {provider} component in {list:?}");
    found[0]
}

/// Right after creation, the JWKS holds the realm's signing and encryption keys, and the
/// realm's first token is signed with the signing key of that JWKS; discovery and a second
/// JWKS show the same.
#[tokio::test]
async fn first_jwks_of_a_new_realm_verifies_its_first_token() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[]).await;
    let admin = admin_token(&server).await;
    create(&server, &admin, "fresh").await;
    let first = jwks(&server, "fresh").await;
    let sig = jwk(&first, "RS256");
    assert_eq!(sig["use"], "sig");
    assert!(sig["x5c"][0].is_string(), "{sig}");
    assert_eq!(jwk(&first, "RSA-OAEP")["use"], "enc");
    let token = client_credentials(&server, "fresh").await;
    let claims = verify(&token, sig, &issuer(&server, "fresh"));
    assert_eq!(claims["azp"], "svc");
    assert_eq!(
        jwks(&server, "fresh").await,
        first,
        "the keys are made once"
    );
    let (s, disco) = get_json(&server.url("/realms/fresh/.well-known/openid-configuration")).await;
    assert_eq!(s, 200);
    assert_eq!(
        disco["jwks_uri"],
        json!(format!(
            "{}/protocol/openid-connect/certs",
            issuer(&server, "fresh")
        ))
    );
}

/// The Admin API's first look at a new realm's key providers shows `rsa-generated` and
/// `rsa-enc-generated` with their certificates, and the keys of those components are the
/// JWKS's keys (same `kid`), generated once.
#[tokio::test]
async fn key_providers_of_a_new_realm_are_the_jwks_keys() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[]).await;
    let admin = admin_token(&server).await;
    create(&server, &admin, "tenant").await;
    let list = providers(&server, &admin, "tenant").await;
    let names: Vec<&str> = list
        .iter()
        .filter_map(|c| c["providerId"].as_str())
        .collect();
    for p in [
        "rsa-generated",
        "rsa-enc-generated",
        "hmac-generated",
        "aes-generated",
    ] {
        assert!(names.contains(&p), "{p} in {names:?}");
    }
    let rsa = only(&list, "rsa-generated");
    let enc = only(&list, "rsa-enc-generated");
    for c in [rsa, enc] {
        assert!(
            c["config"]["certificate"][0]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{c}"
        );
        assert_eq!(c["config"]["priority"], json!(["100"]));
        assert_eq!(c["config"]["keySize"], json!(["2048"]));
    }
    assert_eq!(rsa["config"]["algorithm"], json!(["RS256"]));
    let (s, keys, _) = call(
        &server,
        "GET",
        "/admin/realms/tenant/keys",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{keys}");
    let of = |provider: &Value, alg: &str| -> String {
        let k: Vec<&Value> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["providerId"] == provider["id"] && k["algorithm"] == alg)
            .collect();
        assert_eq!(k.len(), 1, "{alg} key of {provider} in {keys}");
        assert_eq!(k[0]["certificate"], provider["config"]["certificate"][0]);
        k[0]["kid"].as_str().unwrap().to_string()
    };
    let (sig_kid, enc_kid) = (of(rsa, "RS256"), of(enc, "RSA-OAEP"));
    assert_eq!(keys["active"]["RS256"], json!(sig_kid));
    let set = jwks(&server, "tenant").await;
    assert_eq!(jwk(&set, "RS256")["kid"], json!(sig_kid));
    assert_eq!(jwk(&set, "RSA-OAEP")["kid"], json!(enc_kid));
    assert_eq!(
        providers(&server, &admin, "tenant").await,
        list,
        "the keys are made once"
    );
    let token = client_credentials(&server, "tenant").await;
    verify(&token, jwk(&set, "RS256"), &issuer(&server, "tenant"));
}

/// The exported key provider's RSA key as a JWK (`n`, `e`, `kid`), from its `privateKey`.
fn exported_jwk(realm: &Value, provider: &str) -> Value {
    let list = realm["components"]["org.keycloak.keys.KeyProvider"]
        .as_array()
        .unwrap();
    let c = only(list, provider);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(c["config"]["privateKey"][0].as_str().unwrap())
        .unwrap();
    let kp = aws_lc_rs::rsa::KeyPair::from_der(&raw).unwrap();
    let public = kp.public_key();
    let spki = public.as_der().unwrap();
    let kid = b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref()).as_ref());
    json!({
        "kid": kid,
        "n": b64url(public.modulus().big_endian_without_leading_zero()),
        "e": b64url(public.exponent().big_endian_without_leading_zero()),
    })
}

/// `portcullis export` of a realm nobody used yet carries its keys; the server then goes on
/// with those same keys, and after a re-import elsewhere the realm's next token verifies with
/// the exported key.
#[tokio::test]
async fn export_of_an_unused_realm_carries_the_keys_it_goes_on_with() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    {
        let server = start_with(&data, &[]).await;
        let admin = admin_token(&server).await;
        create(&server, &admin, "quiet").await;
    }
    let exported = data.export("quiet");
    let sig = exported_jwk(&exported, "rsa-generated");
    let enc = exported_jwk(&exported, "rsa-enc-generated");
    assert_eq!(data.export("quiet"), exported, "the keys are made once");
    let server = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let set = jwks(&server, "quiet").await;
    assert_eq!(jwk(&set, "RS256")["kid"], sig["kid"]);
    assert_eq!(jwk(&set, "RSA-OAEP")["kid"], enc["kid"]);
    drop(server);

    let elsewhere = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&elsewhere, &[exported]).await;
    let token = client_credentials(&server, "quiet").await;
    verify(&token, &sig, &issuer(&server, "quiet"));
    assert_eq!(
        jwk(&jwks(&server, "quiet").await, "RS256")["kid"],
        sig["kid"]
    );
}

/// Two nodes on one PostgreSQL schema asked at the same time for the keys of a realm neither
/// has used: both answer with one key set, the one the store keeps.
#[tokio::test]
async fn two_nodes_asking_at_once_end_with_one_key_set_on_postgres() {
    let Some(data) = Data::new(Backend::Postgres).await else {
        return;
    };
    let a = start_with(&data, &[]).await;
    let b = TestServer::start(&data, "start-dev", &[], &[]).unwrap();
    let admin_a = admin_token(&a).await;
    let admin_b = admin_token(&b).await;
    create(&a, &admin_a, "raced").await;
    // Wait until node b knows the realm, through a request that reads no key.
    let mut known = false;
    for _ in 0..200 {
        let (_, list, _) = call(
            &b,
            "GET",
            "/admin/realms?briefRepresentation=true",
            Some(&admin_b),
            None,
        )
        .await;
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["realm"] == "raced")
        {
            known = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(known, "node b learns of the new realm");
    let (a1, a2, b1, b2) = tokio::join!(
        jwks(&a, "raced"),
        jwks(&a, "raced"),
        jwks(&b, "raced"),
        jwks(&b, "raced")
    );
    for other in [&a2, &b1, &b2] {
        assert_eq!(other, &a1, "one key set on both nodes");
    }
    assert_eq!(jwks(&b, "raced").await, a1);
    let list = providers(&a, &admin_a, "raced").await;
    only(&list, "rsa-generated");
    only(&list, "rsa-enc-generated");
    let token = client_credentials(&b, "raced").await;
    verify(&token, jwk(&a1, "RS256"), &issuer(&b, "raced"));
    drop((a, b));
    data.cleanup().await;
}
