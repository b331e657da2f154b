//! `Validator::validate` with a warm key cache: RS256, ES256 and EdDSA tokens from a local issuer,
//! each next to the bare signature verification of the same token (the floor).
//!
//! cargo bench -p portcullis-guard -- --warm-up-time 1 --measurement-time 4
//!
//! Figures (`taskset -c 1`, 2-core dev machine at load 1.2, three runs, 2026-11-23): RS256
//! 19.4–20.0 µs vs 16.1–16.2 µs signature only; ES256 59.9–60.7 µs vs 56.0–57.2 µs.
//! Instructions per token: RS256 329,200 vs 295,600; ES256 767,600 vs 734,700.
//! See docs/guard.md, "Performance".
//!
//! Instruction counts, which a busy machine does not disturb: with `GUARD_BENCH_COUNT=<n>` the
//! binary skips criterion and runs each case `n` times in the functions `count_validate`,
//! `count_validate_block_on` and `count_signature`, whose inclusive cost callgrind reports
//! (`GUARD_BENCH_CASE=RS256` limits it to one algorithm):
//!
//! GUARD_BENCH_COUNT=1000 GUARD_BENCH_CASE=RS256 valgrind --tool=callgrind \
//!   --callgrind-out-file=cg.out target/release/deps/validate-<hash>
//! callgrind_annotate --inclusive=yes cg.out | grep count_
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::Criterion;
use portcullis_guard::testing::{TestIssuer, TestKey};
use portcullis_guard::Validator;

/// One benchmarked token: the validator's input and the signature-only baseline's.
struct Case {
    name: &'static str,
    token: String,
    input: Vec<u8>,
    sig: Vec<u8>,
    /// The same kind of key object the validator's cache holds (`ParsedPublicKey`).
    parsed: signature::ParsedPublicKey,
}

fn setup(rt: &tokio::runtime::Runtime) -> (TestIssuer, Arc<Validator>, Vec<Case>) {
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
    let cases = keys
        .iter()
        .map(|(name, key)| {
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
            Case {
                name,
                input: input.as_bytes().to_vec(),
                token,
                sig,
                parsed,
            }
        })
        .collect();
    (idp, validator, cases)
}

/// Runs `fut` as the task of a running executor would: one poll, which is all a validation with
/// a warm key cache takes (it never waits). Should it wait (it would be a bench bug), the
/// runtime finishes it. `Runtime::block_on` per call would add the runtime's entry and exit
/// (about 4,000 instructions) to each sample: harness cost, which a server does not pay per
/// request.
fn run<F: Future>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => rt.block_on(fut),
    }
}

fn validate(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_idp, validator, cases) = setup(&rt);
    let mut group = c.benchmark_group("validate");
    for case in &cases {
        group.bench_function(case.name, |b| {
            b.iter(|| run(&rt, validator.validate(&case.token)).unwrap())
        });
        group.bench_function(format!("{}/signature-only", case.name), |b| {
            b.iter(|| case.parsed.verify_sig(&case.input, &case.sig).unwrap())
        });
    }
    group.finish();
}

#[inline(never)]
fn count_validate(rt: &tokio::runtime::Runtime, validator: &Validator, case: &Case, n: u64) {
    for _ in 0..n {
        black_box(run(rt, validator.validate(black_box(&case.token))).unwrap());
    }
}

/// The same through `Runtime::block_on` per call (the harness of earlier figures).
#[inline(never)]
fn count_validate_block_on(
    rt: &tokio::runtime::Runtime,
    validator: &Validator,
    case: &Case,
    n: u64,
) {
    for _ in 0..n {
        black_box(
            rt.block_on(validator.validate(black_box(&case.token)))
                .unwrap(),
        );
    }
}

#[inline(never)]
fn count_signature(case: &Case, n: u64) {
    for _ in 0..n {
        case.parsed
            .verify_sig(black_box(&case.input), black_box(&case.sig))
            .unwrap();
    }
}

fn count(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_idp, validator, cases) = setup(&rt);
    let only = std::env::var("GUARD_BENCH_CASE").ok();
    for case in &cases {
        if only.as_deref().is_some_and(|o| o != case.name) {
            continue;
        }
        count_validate(&rt, &validator, case, n);
        count_validate_block_on(&rt, &validator, case, n);
        count_signature(case, n);
    }
}

fn main() {
    if let Ok(n) = std::env::var("GUARD_BENCH_COUNT") {
        count(n.parse().expect("GUARD_BENCH_COUNT: a number"));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    validate(&mut c);
    c.final_summary();
}
