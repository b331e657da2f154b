//! The per-issuer key cache: single-flight loads, key rotation with a cooldown, negative
//! caching and the bound on issuers. Time is a `ManualClock`; nothing depends on wall-clock speed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portcullis_guard::testing::{ManualClock, TestKey};
use portcullis_guard::{Error, Validator};

use crate::support::{Fixture, AUD};

async fn validate_concurrently(
    v: &Arc<Validator>,
    token: &str,
    n: usize,
) -> Vec<Result<portcullis_guard::Actor, Error>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (v, t) = (v.clone(), token.to_owned());
            tokio::spawn(async move { v.validate(&t).await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_load_is_single_flight() {
    let f = Fixture::new().await;
    let v = f.validator();
    let results = validate_concurrently(&v, &f.token(&f.ec), 1000).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!((f.idp.discovery_hits(), f.idp.certs_hits()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_rotation_refetches_once_per_cooldown() {
    let f = Fixture::new().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let v = Arc::new(f.builder().clock(clock.clone()).build().unwrap());
    v.validate(&f.token(&f.rsa)).await.unwrap();
    assert_eq!((f.idp.discovery_hits(), f.idp.certs_hits()), (1, 1));

    // The issuer rotates to a new key. Right after a fetch, the cooldown holds.
    let rotated = TestKey::rsa("rsa-2");
    f.idp.publish(&rotated);
    let token = f.token(&rotated);
    assert_eq!(v.validate(&token).await, Err(Error::UnknownKey));
    assert_eq!(f.idp.certs_hits(), 1);

    // After the cooldown, 200 concurrent requests with the new kid cause exactly one fetch.
    clock.advance(Duration::from_secs(31));
    let results = validate_concurrently(&v, &token, 200).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{failed} of 200 requests failed");
    assert_eq!(f.idp.certs_hits(), 2);
    assert_eq!(
        f.idp.discovery_hits(),
        1,
        "a refresh reuses the discovered jwks_uri"
    );

    // A second unknown kid within the cooldown: no fetch, however many requests.
    let second = TestKey::ec_p256("ec-2");
    f.idp.publish(&second);
    let token2 = f.token(&second);
    let results = validate_concurrently(&v, &token2, 200).await;
    assert!(results.iter().all(|r| r == &Err(Error::UnknownKey)));
    assert_eq!(f.idp.certs_hits(), 2);

    // Once the cooldown has passed, it is picked up with one more fetch.
    clock.advance(Duration::from_secs(31));
    let results = validate_concurrently(&v, &token2, 50).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.idp.certs_hits(), 3);

    // Old and new keys keep working from the cache.
    for t in [f.token(&f.rsa), token, token2] {
        assert!(v.validate(&t).await.is_ok());
    }
    assert_eq!(f.idp.certs_hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_kids_cannot_force_fetches() {
    let f = Fixture::new().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let v = Arc::new(f.builder().clock(clock.clone()).build().unwrap());
    v.validate(&f.token(&f.rsa)).await.unwrap();
    clock.advance(Duration::from_secs(31));
    // 1000 concurrent tokens, each with a different unknown kid: one fetch in total.
    let stranger = TestKey::ec_p256("x");
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let v = v.clone();
            let t = f
                .idp
                .token("acme", &stranger)
                .claim("aud", AUD)
                .header("kid", format!("random-{i}"))
                .sign();
            tokio::spawn(async move { v.validate(&t).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Err(Error::UnknownKey));
    }
    assert_eq!(f.idp.certs_hits(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_known_keys() {
    let f = Fixture::new().await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let v = f.builder().clock(clock.clone()).build().unwrap();
    v.validate(&f.token(&f.rsa)).await.unwrap();
    f.idp.set_available(false);
    clock.advance(Duration::from_secs(31));
    let rotated = TestKey::rsa("rsa-2");
    assert_eq!(v.validate(&f.token(&rotated)).await, Err(Error::UnknownKey));
    assert_eq!(f.idp.certs_hits(), 2);
    // the failed attempt starts a new cooldown
    assert_eq!(v.validate(&f.token(&rotated)).await, Err(Error::UnknownKey));
    assert_eq!(f.idp.certs_hits(), 2);
    // known keys still verify
    assert!(v.validate(&f.token(&f.rsa)).await.is_ok());
}

#[tokio::test]
async fn invented_tenants_are_negatively_cached_and_bounded() {
    let f = Fixture::new().await;
    f.idp.add_realm("tenant-real");
    let pattern = format!("{}/realms/tenant-*", f.idp.base_url());
    let v = Validator::builder()
        .issuer(pattern.clone())
        .audience(AUD)
        .build()
        .unwrap();
    let forged = |realm: &str| f.idp.token(realm, &f.rsa).claim("aud", AUD).sign();

    // The real tenant works through the pattern.
    let actor = v.validate(&forged("tenant-real")).await.unwrap();
    assert_eq!(actor.tenant.as_deref(), Some("tenant-real"));
    let base_hits = f.idp.discovery_hits() + f.idp.certs_hits();

    // 50 invented tenants: each costs one load (discovery 404, then the certs path 404).
    let tenants: Vec<String> = (0..50).map(|i| format!("tenant-r{i:04}x")).collect();
    for t in &tenants {
        assert_eq!(v.validate(&forged(t)).await, Err(Error::KeysUnavailable));
    }
    let after_first = f.idp.discovery_hits() + f.idp.certs_hits();
    assert_eq!(after_first - base_hits, 100);
    // Again, many times: the failures are cached, nothing is fetched.
    for _ in 0..5 {
        for t in &tenants {
            assert_eq!(v.validate(&forged(t)).await, Err(Error::KeysUnavailable));
        }
    }
    assert_eq!(f.idp.discovery_hits() + f.idp.certs_hits(), after_first);
    assert_eq!(v.cached_issuer_count().await, 51);

    // Realms outside the pattern never reach the network.
    for realm in ["other", "tenant-", "tenant-a/../x"] {
        assert_eq!(
            v.validate(&forged(realm)).await,
            Err(Error::UntrustedIssuer),
            "{realm}"
        );
    }
    assert_eq!(f.idp.discovery_hits() + f.idp.certs_hits(), after_first);

    // With a small bound, a flood of invented tenants cannot grow the cache past it.
    let v = Validator::builder()
        .issuer(pattern)
        .audience(AUD)
        .max_issuers(8)
        .build()
        .unwrap();
    for i in 0..200 {
        let _ = v.validate(&forged(&format!("tenant-flood{i}"))).await;
    }
    let n = v.cached_issuer_count().await;
    assert!(n <= 8, "cache holds {n} issuers");
    // and the real tenant still works
    assert!(v.validate(&forged("tenant-real")).await.is_ok());
}

#[tokio::test]
async fn a_slow_issuer_fails_closed_within_the_fetch_timeout() {
    let f = Fixture::new().await;
    // The issuer accepts connections but answers only after an hour: nothing but the guard's
    // fetch timeout can end the request.
    f.idp.set_response_delay(Duration::from_secs(3600));
    let v = f
        .builder()
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let token = f.token(&f.rsa);
    // A hang detector, not a speed requirement: without a working fetch timeout `validate`
    // would wait for the hour-long answer and this outer timeout would fire.
    let result = tokio::time::timeout(Duration::from_secs(60), v.validate(&token)).await;
    assert_eq!(
        result.ok(),
        Some(Err(Error::KeysUnavailable)),
        "validation hung or did not fail closed"
    );
    // The server was reached (slow, not down), and the failure is remembered: the next
    // request neither waits nor fetches, even though the issuer is fast again.
    let hits = f.idp.discovery_hits() + f.idp.certs_hits();
    assert!(hits >= 1);
    f.idp.set_response_delay(Duration::ZERO);
    let again = tokio::time::timeout(Duration::from_secs(60), v.validate(&token)).await;
    assert_eq!(again.ok(), Some(Err(Error::KeysUnavailable)));
    assert_eq!(f.idp.discovery_hits() + f.idp.certs_hits(), hits);
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_is_refused_after_the_ttl() {
    let f = Fixture::new().await;
    // The TTL is measured by the cache's own monotonic clock, not by the injected `Clock`,
    // so this test waits for real; the TTL is short.
    let ttl = Duration::from_millis(800);
    let v = f.builder().key_ttl(ttl).build().unwrap();
    let (rsa_token, ec_token) = (f.token(&f.rsa), f.token(&f.ec));
    let loaded = std::time::Instant::now();
    v.validate(&rsa_token).await.unwrap();
    assert_eq!(f.idp.certs_hits(), 1);

    // The issuer retires the RSA key.
    f.idp.unpublish(f.rsa.kid());
    // Within the TTL the cached set still holds it (checked only when this machine was quick
    // enough for the call to finish inside the TTL, so a stall cannot fail the test).
    let cached = v.validate(&rsa_token).await;
    if loaded.elapsed() < ttl {
        assert!(cached.is_ok(), "{cached:?}");
        assert_eq!(f.idp.certs_hits(), 1);
    }

    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    // Expired: the keys are loaded again, the retired key is gone, the token is refused.
    assert_eq!(v.validate(&rsa_token).await, Err(Error::UnknownKey));
    let hits = f.idp.certs_hits();
    assert!(hits >= 2, "the expired set was not fetched again");
    // Keys still published keep working from the new set, without another fetch.
    assert!(v.validate(&ec_token).await.is_ok());
    assert_eq!(f.idp.certs_hits(), hits);
}
