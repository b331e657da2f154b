//! `Validator::validate` with a warm key cache: RS256, ES256 and EdDSA tokens from a local issuer,
//! each next to the bare signature verification of the same token (the floor).
//!
//! cargo bench -p portcullis-guard -- --warm-up-time 1 --measurement-time 4
//!
//! Figures (medians of 3 runs, `taskset -c 1`, 2-core dev machine at load 3.1–3.7, 2026-11-23):
//! RS256 32.0 µs vs 26.0 µs signature only; ES256 86.5 µs vs 84.8 µs; EdDSA 61.8 µs vs 55.6 µs.
//! See docs/guard.md, "Performance".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use aws_lc_rs::signature;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_guard::testing::{TestIssuer, TestKey};
use portcullis_guard::Validator;

fn validate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = rt.block_on(TestIssuer::start()).unwrap();
    idp.add_realm("bench");
    let keys = [
        ("RS256", TestKey::rsa("rsa")),
        ("ES256", TestKey::ec_p256("ec")),
        ("EdDSA", TestKey::ed25519("ed")),
    ];
    for (_, k) in &keys {
        idp.publish(k);
    }
    let validator = Arc::new(
        Validator::builder()
            .issuer(idp.issuer("bench"))
            .audience("api")
            .build()
            .unwrap(),
    );
    let mut group = c.benchmark_group("validate");
    for (name, key) in &keys {
        let token = idp
            .token("bench", key)
            .claim("aud", serde_json::json!(["account", "api"]))
            .claim(
                "realm_access",
                serde_json::json!({"roles": ["user", "admin"]}),
            )
            .claim(
                "resource_access",
                serde_json::json!({"api": {"roles": ["read", "write"]}}),
            )
            .sign();
        // Warm the cache; also proves the token is valid.
        rt.block_on(validator.validate(&token)).unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| rt.block_on(validator.validate(&token)).unwrap())
        });
        // Baseline on the same machine and moment: the bare aws-lc-rs signature check of the
        // same token with an already-parsed key. The difference is the guard's own work.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let alg: &'static dyn signature::VerificationAlgorithm = match *name {
            "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
            "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
            _ => &signature::ED25519,
        };
        let parsed = signature::ParsedPublicKey::new(alg, key.public_key_bytes()).unwrap();
        parsed.verify_sig(input.as_bytes(), &sig).unwrap();
        group.bench_function(format!("{name}/signature-only"), |b| {
            b.iter(|| parsed.verify_sig(input.as_bytes(), &sig).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
