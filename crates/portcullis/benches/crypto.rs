//! The per-core ceilings the token endpoint is measured against: signing an access-token-sized
//! payload with RS256, ES256 and EdDSA keys held parsed in memory, and hashing a password with
//! the Argon2id parameters new credentials get.

#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::crypto::keys::{generate, load, Generate};
use portcullis::crypto::{jws, password};
use serde_json::json;

fn claims() -> serde_json::Value {
    json!({
        "exp": 1_900_000_000, "iat": 1_899_999_700, "jti": "0b5d2e1a-8a2b-4c5e-9d8f-1a2b3c4d5e6f",
        "iss": "http://localhost:8080/realms/bench", "sub": "6a0f7b52-3b2e-4d6c-8f1a-2b3c4d5e6f70", "typ": "Bearer",
        "azp": "bench-api", "realm_access": {"roles": ["default-roles-bench", "offline_access", "uma_authorization"]},
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}}, "scope": "profile email",
        "email_verified": false, "preferred_username": "service-account-bench-api", "client_id": "bench-api"
    })
}

fn signing(c: &mut Criterion) {
    let claims = claims();
    for (name, kind) in [
        ("RS256", Generate::RsaSig("RS256")),
        ("ES256", Generate::Es256),
        ("EdDSA", Generate::EdDsa),
    ] {
        let key = load(&generate(kind, "bench", "k".into()).expect("generate"))
            .expect("load")
            .expect("key");
        c.bench_function(&format!("sign {name}"), |b| {
            b.iter(|| jws::sign(&key, "JWT", &claims).expect("sign"))
        });
    }
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("password");
    g.sample_size(10);
    g.bench_function("argon2id m=19456 t=2 p=1", |b| {
        b.iter(|| password::hash("correct horse battery staple").expect("hash"))
    });
    // The same hash through the argon2 crate's own API, which allocates (and faults in) its
    // 19 MiB of working memory on every call: the library's plain rate, for comparison with
    // the server's path above, which reuses the memory per thread.
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19456, 2, 1, Some(32)).expect("params"),
    );
    g.bench_function("argon2id m=19456 t=2 p=1, crate API", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon
                .hash_password_into(
                    b"correct horse battery staple",
                    b"0123456789abcdef",
                    &mut out,
                )
                .expect("hash");
            out
        })
    });
    g.finish();
}

criterion_group!(benches, signing, hashing);
criterion_main!(benches);
