//! Validator::validate: what is accepted and what is refused, with real signatures.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use portcullis_guard::testing::{ManualClock, TestKey};
use portcullis_guard::{Algorithm, Error};
use serde_json::json;

use crate::support::{Fixture, AUD};

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn valid_tokens_of_every_key_type_are_accepted() {
    let f = Fixture::new().await;
    let ps = TestKey::rsa_with("ps-1", Algorithm::PS256);
    let rs512 = TestKey::rsa_with("rs512-1", Algorithm::RS512);
    let es384 = TestKey::ec_p384("ec384-1");
    for k in [&ps, &rs512, &es384] {
        f.idp.publish(k);
    }
    let v = f.validator();
    for key in [&f.rsa, &f.ec, &f.ed, &ps, &rs512, &es384] {
        let builder = f
            .idp
            .token("acme", key)
            .claim("aud", json!(["account", AUD]))
            .claim("email", "alice@example.com")
            .claim("realm_access", json!({"roles": ["admin"]}))
            .claim("organization", json!({"acme-corp": {"id": "o-1"}}))
            .claim("custom", json!({"nested": [1, "two", null]}));
        let sent = builder.claims().clone();
        let token = builder.sign();
        let actor = v
            .validate(&token)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", key.alg()));
        assert_eq!(actor.tenant.as_deref(), Some("acme"));
        assert_eq!(actor.issuer, f.idp.issuer("acme"));
        assert_eq!(actor.email.as_deref(), Some("alice@example.com"));
        assert!(actor.has_realm_role("admin"));
        assert_eq!(
            actor.organization("acme-corp").unwrap().id.as_deref(),
            Some("o-1")
        );
        assert_eq!(actor.preferred_username.as_deref(), Some("test-user"));
        // The full claims view is every claim sent, including those the guard does not read.
        assert_eq!(*actor.claims, sent);
        assert_eq!(actor.claims["custom"]["nested"][1], "two");
    }
    // one discovery and one JWKS fetch for all of them
    assert_eq!((f.idp.discovery_hits(), f.idp.certs_hits()), (1, 1));
}

#[tokio::test]
async fn tokens_signed_by_another_jwt_library_are_accepted() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let f = Fixture::new().await;
    let v = f.validator();
    let claims = f
        .idp
        .token("acme", &f.ec)
        .claim("aud", AUD)
        .claims()
        .clone();
    for (key, alg, enc) in [
        (
            &f.ec,
            jsonwebtoken::Algorithm::ES256,
            EncodingKey::from_ec_der(f.ec.pkcs8_der()),
        ),
        (
            &f.ed,
            jsonwebtoken::Algorithm::EdDSA,
            EncodingKey::from_ed_der(f.ed.pkcs8_der()),
        ),
    ] {
        let mut header = Header::new(alg);
        header.kid = Some(key.kid().to_owned());
        let token = encode(&header, &claims, &enc).unwrap();
        assert!(v.validate(&token).await.is_ok(), "{alg:?}");
    }
}

#[tokio::test]
async fn claim_failures_are_refused() {
    let f = Fixture::new().await;
    let v = f.validator();
    let now = f.idp.token("acme", &f.rsa).claims()["iat"]
        .as_i64()
        .unwrap();
    let cases: Vec<(String, Error)> = vec![
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("exp", now - 60)
                .sign(),
            Error::Expired,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("nbf", now + 3600)
                .sign(),
            Error::NotYetValid,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("iat", now + 3600)
                .sign(),
            Error::IssuedInFuture,
        ),
        (
            f.idp.token("acme", &f.rsa).claim("aud", "other-api").sign(),
            Error::InvalidAudience,
        ),
        (
            f.idp.token("acme", &f.rsa).sign(), // no aud at all
            Error::InvalidAudience,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("typ", "Refresh")
                .sign(),
            Error::InvalidTokenType,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("typ", "ID")
                .sign(),
            Error::InvalidTokenType,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .without("sub")
                .sign(),
            Error::MissingClaim("sub".into()),
        ),
        (
            // a realm that is not configured, on the same server
            f.idp.token("other", &f.rsa).claim("aud", AUD).sign(),
            Error::UntrustedIssuer,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim("iss", format!("{}/", f.idp.issuer("acme")))
                .sign(),
            Error::UntrustedIssuer,
        ),
        (
            f.idp
                .token("acme", &f.rsa)
                .claim("aud", AUD)
                .claim(
                    "iss",
                    f.idp.issuer("acme").replace("127.0.0.1", "localhost"),
                )
                .sign(),
            Error::UntrustedIssuer,
        ),
    ];
    for (token, want) in cases {
        assert_eq!(v.validate(&token).await, Err(want.clone()), "{want:?}");
    }
    // None of these reached the network: claims are checked before keys are fetched.
    assert_eq!(f.idp.discovery_hits() + f.idp.certs_hits(), 0);
}

#[tokio::test]
async fn azp_and_required_claims_options() {
    let f = Fixture::new().await;
    let token = f.idp.token("acme", &f.rsa).claim("azp", AUD).sign();
    assert_eq!(
        f.validator().validate(&token).await,
        Err(Error::InvalidAudience)
    );
    let v = f.builder().accept_azp_as_audience(true).build().unwrap();
    assert!(v.validate(&token).await.is_ok());
    let v = f.builder().required_claim("org_id").build().unwrap();
    assert_eq!(
        v.validate(&f.token(&f.rsa)).await,
        Err(Error::MissingClaim("org_id".into()))
    );
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let f = Fixture::new().await;
    let v = f.validator();
    for key in [&f.rsa, &f.ec, &f.ed] {
        let token = f.token(key);
        let (head, sig) = token.rsplit_once('.').unwrap();
        let (header, _) = head.split_once('.').unwrap();
        // swap the payload, keep the signature
        let forged_claims = f
            .idp
            .token("acme", key)
            .claim("aud", AUD)
            .claim("realm_access", json!({"roles": ["admin"]}))
            .claims()
            .clone();
        let forged = format!(
            "{header}.{}.{sig}",
            b64(&serde_json::Value::Object(forged_claims).to_string())
        );
        assert_eq!(v.validate(&forged).await, Err(Error::InvalidSignature));
        // flip a bit of the signature
        let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        raw[5] ^= 1;
        let flipped = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(v.validate(&flipped).await, Err(Error::InvalidSignature));
        // drop the signature
        assert_eq!(
            v.validate(&format!("{head}.")).await,
            Err(Error::InvalidSignature)
        );
        // the original still passes
        assert!(v.validate(&token).await.is_ok());
    }
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let f = Fixture::new().await;
    let v = f.validator();
    let claims = f
        .idp
        .token("acme", &f.rsa)
        .claim("aud", AUD)
        .claims()
        .clone();
    let payload = b64(&serde_json::Value::Object(claims.clone()).to_string());
    for alg in ["none", "None", "NONE"] {
        let header = b64(&format!(r#"{{"alg":"{alg}","kid":"rsa-1"}}"#));
        assert_eq!(
            v.validate(&format!("{header}.{payload}.")).await,
            Err(Error::UnsupportedAlgorithm)
        );
    }
    // The classic confusion attack: HS256 keyed with the issuer's public key, in every form
    // an attacker could fetch it.
    let jwk_json = f.rsa.jwk().to_string();
    let secrets: [&[u8]; 2] = [f.rsa.public_key_bytes(), jwk_json.as_bytes()];
    for secret in secrets {
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let mut header = Header::new(alg);
            header.kid = Some("rsa-1".into());
            let token = encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
            assert_eq!(v.validate(&token).await, Err(Error::UnsupportedAlgorithm));
        }
    }
    // An `oct` key in the JWKS is never used either.
    f.idp
        .publish_jwk(json!({"kty": "oct", "kid": "hmac", "k": b64("secret"), "alg": "HS256"}));
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("hmac".into());
    let token = encode(&header, &claims, &EncodingKey::from_secret(b"secret")).unwrap();
    assert_eq!(v.validate(&token).await, Err(Error::UnsupportedAlgorithm));
}

#[tokio::test]
async fn allowlist_and_key_algorithm_must_agree() {
    let f = Fixture::new().await;
    // Only ES256 allowed: RS256 tokens are refused before any fetch.
    let v = f.builder().algorithms(&[Algorithm::ES256]).build().unwrap();
    assert_eq!(
        v.validate(&f.token(&f.rsa)).await,
        Err(Error::UnsupportedAlgorithm)
    );
    assert!(v.validate(&f.token(&f.ec)).await.is_ok());

    // A header that names the EC key's kid with alg RS256 finds no key.
    let v = f.validator();
    let token = f
        .idp
        .token("acme", &f.rsa)
        .claim("aud", AUD)
        .header("kid", "ec-1")
        .sign();
    assert_eq!(v.validate(&token).await, Err(Error::UnknownKey));

    // A PS256 token signed with the RS256-only key: the JWK's alg forbids it.
    let ps_with_rs_key = TestKey::rsa_with("rsa-1", Algorithm::PS256);
    let token = f
        .idp
        .token("acme", &ps_with_rs_key)
        .claim("aud", AUD)
        .sign();
    assert_eq!(v.validate(&token).await, Err(Error::UnknownKey));
}

#[tokio::test]
async fn unknown_kid_and_encryption_keys_are_refused() {
    let f = Fixture::new().await;
    // A key published for encryption only is not a signing key.
    let enc = TestKey::ec_p256("enc-1");
    let mut jwk = enc.jwk();
    jwk["use"] = json!("enc");
    f.idp.publish_jwk(jwk);
    let v = f.builder().build().unwrap();
    assert_eq!(v.validate(&f.token(&enc)).await, Err(Error::UnknownKey));
    assert_eq!(f.idp.certs_hits(), 1);
    let stranger = TestKey::rsa("not-published");
    assert_eq!(
        v.validate(&f.token(&stranger)).await,
        Err(Error::UnknownKey)
    );
    // A token signed by a stranger's key under a published kid fails the signature.
    let impostor = TestKey::rsa("rsa-1");
    assert_eq!(
        v.validate(&f.token(&impostor)).await,
        Err(Error::InvalidSignature)
    );
}

#[tokio::test]
async fn malformed_and_oversized_tokens_are_refused() {
    let f = Fixture::new().await;
    let v = f.builder().max_token_size(2048).build().unwrap();
    for bad in ["", "a.b", "a.b.c", "...", "x.y.z.w.v"] {
        assert!(v.validate(bad).await.is_err(), "{bad}");
    }
    let big = f
        .idp
        .token("acme", &f.ec)
        .claim("aud", AUD)
        .claim("padding", "x".repeat(4096))
        .sign();
    assert_eq!(v.validate(&big).await, Err(Error::TokenTooLarge));
    let crit = f
        .idp
        .token("acme", &f.ec)
        .claim("aud", AUD)
        .header("crit", json!(["exp"]))
        .sign();
    assert_eq!(v.validate(&crit).await, Err(Error::UnsupportedCritical));
}

#[tokio::test]
async fn keys_come_from_discovery_or_the_keycloak_path() {
    let f = Fixture::new().await;
    f.idp.set_discovery(false);
    let v = f.validator();
    assert!(v.validate(&f.token(&f.rsa)).await.is_ok());
    assert_eq!((f.idp.discovery_hits(), f.idp.certs_hits()), (1, 1));

    let f = Fixture::new().await;
    let v = f.builder().use_discovery(false).build().unwrap();
    assert!(v.validate(&f.token(&f.rsa)).await.is_ok());
    assert_eq!((f.idp.discovery_hits(), f.idp.certs_hits()), (0, 1));
}

#[tokio::test]
async fn a_jwks_uri_on_another_origin_is_refused() {
    let f = Fixture::new().await;
    let other = Fixture::new().await;
    f.idp.set_jwks_uri(Some(format!(
        "{}/protocol/openid-connect/certs",
        other.idp.issuer("acme")
    )));
    let v = f.validator();
    assert_eq!(
        v.validate(&f.token(&f.rsa)).await,
        Err(Error::KeysUnavailable)
    );
    assert_eq!(other.idp.certs_hits() + f.idp.certs_hits(), 0);
}

#[tokio::test]
async fn an_oversized_or_garbled_jwks_fails_closed() {
    let f = Fixture::new().await;
    let mut keys: Vec<serde_json::Value> = vec![f.rsa.jwk()];
    keys.extend(
        (0..100).map(|i| json!({"kty": "EC", "kid": format!("pad-{i}"), "x": "A".repeat(64)})),
    );
    f.idp
        .set_certs_body(Some(json!({ "keys": keys }).to_string()));
    let v = f.builder().max_response_size(4096).build().unwrap();
    assert_eq!(
        v.validate(&f.token(&f.rsa)).await,
        Err(Error::KeysUnavailable)
    );

    let f = Fixture::new().await;
    f.idp.set_certs_body(Some("<html>oops</html>".into()));
    assert_eq!(
        f.validator().validate(&f.token(&f.rsa)).await,
        Err(Error::KeysUnavailable)
    );
}

#[tokio::test]
async fn issuer_down_fails_closed_and_is_remembered() {
    let f = Fixture::new().await;
    f.idp.set_available(false);
    let v = f.validator();
    let token = f.token(&f.rsa);
    assert_eq!(v.validate(&token).await, Err(Error::KeysUnavailable));
    let hits = f.idp.discovery_hits() + f.idp.certs_hits();
    assert!(hits >= 1);
    // Within the negative TTL, nothing is fetched again even though the issuer is back.
    f.idp.set_available(true);
    for _ in 0..10 {
        assert_eq!(v.validate(&token).await, Err(Error::KeysUnavailable));
    }
    assert_eq!(f.idp.discovery_hits() + f.idp.certs_hits(), hits);

    // An issuer whose server is gone entirely (connection refused) also fails closed.
    let port = {
        let idp = portcullis_guard::testing::TestIssuer::start()
            .await
            .unwrap();
        idp.base_url().rsplit(':').next().unwrap().to_owned()
    };
    let iss = format!("http://127.0.0.1:{port}/realms/acme");
    let v = portcullis_guard::Validator::builder()
        .issuer(iss.clone())
        .audience(AUD)
        .build()
        .unwrap();
    let token = f
        .idp
        .token("acme", &f.rsa)
        .claim("aud", AUD)
        .claim("iss", iss)
        .sign();
    assert_eq!(v.validate(&token).await, Err(Error::KeysUnavailable));
}

#[tokio::test]
async fn errors_never_show_token_contents() {
    let f = Fixture::new().await;
    let v = f.validator();
    let token = f
        .idp
        .token("acme", &f.rsa)
        .claim("aud", "secret-audience-xyz")
        .claim("sub", "secret-subject-xyz")
        .sign();
    let e = v.validate(&token).await.unwrap_err();
    for shown in [format!("{e}"), format!("{e:?}")] {
        assert!(!shown.contains("secret-"), "{shown}");
        assert!(!shown.contains(&token[..20]), "{shown}");
    }
}

#[tokio::test]
async fn keys_of_one_issuer_never_verify_tokens_of_another() {
    // Two issuers, both trusted by one validator, each with its own keys.
    let a = Fixture::new().await;
    let b = portcullis_guard::testing::TestIssuer::start()
        .await
        .unwrap();
    b.add_realm("acme");
    let b_only = TestKey::ec_p256("b-only");
    // Same kid as issuer A's RSA key, different key material.
    let b_same_kid = TestKey::rsa("rsa-1");
    b.publish(&b_only);
    b.publish(&b_same_kid);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let v = a
        .builder()
        .issuer(b.issuer("acme"))
        .clock(clock.clone())
        .build()
        .unwrap();

    // Both issuers' own tokens pass, so both key sets are in the cache.
    let b_token = |key: &TestKey| b.token("acme", key).claim("aud", AUD).sign();
    v.validate(&a.token(&a.rsa)).await.unwrap();
    v.validate(&b_token(&b_only)).await.unwrap();
    v.validate(&b_token(&b_same_kid)).await.unwrap();

    // A token claiming issuer A, signed with B's key, naming B's kid: A has no such key,
    // even after A's key set is refreshed.
    let forged = a.token(&b_only);
    assert_eq!(v.validate(&forged).await, Err(Error::UnknownKey));
    clock.advance(Duration::from_secs(31));
    let a_hits = a.idp.certs_hits();
    assert_eq!(v.validate(&forged).await, Err(Error::UnknownKey));
    assert_eq!(a.idp.certs_hits(), a_hits + 1, "A's own set was refreshed");
    assert_eq!(b.certs_hits(), 1, "B's set was never consulted for A");

    // The kid both issuers use: for A's token, only A's key of that kid counts.
    assert_eq!(
        v.validate(&a.token(&b_same_kid)).await,
        Err(Error::InvalidSignature)
    );
    // And the other way round.
    assert_eq!(
        v.validate(&b_token(&a.rsa)).await,
        Err(Error::InvalidSignature)
    );
}
