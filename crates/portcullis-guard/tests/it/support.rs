//! Shared set-up: one issuer with realm `acme` and RSA, EC and Ed25519 keys published.

use std::sync::Arc;

use portcullis_guard::testing::{TestIssuer, TestKey};
use portcullis_guard::{Validator, ValidatorBuilder};

pub const AUD: &str = "orders-api";

pub struct Fixture {
    pub idp: TestIssuer,
    pub rsa: TestKey,
    pub ec: TestKey,
    pub ed: TestKey,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let idp = TestIssuer::start().await.unwrap();
        idp.add_realm("acme");
        let (rsa, ec, ed) = (
            TestKey::rsa("rsa-1"),
            TestKey::ec_p256("ec-1"),
            TestKey::ed25519("ed-1"),
        );
        for k in [&rsa, &ec, &ed] {
            idp.publish(k);
        }
        Fixture { idp, rsa, ec, ed }
    }

    /// A builder trusting realm `acme` exactly, audience `orders-api`.
    pub fn builder(&self) -> ValidatorBuilder {
        Validator::builder()
            .issuer(self.idp.issuer("acme"))
            .audience(AUD)
    }

    pub fn validator(&self) -> Arc<Validator> {
        Arc::new(self.builder().build().unwrap())
    }

    /// A valid access token of realm `acme` for `orders-api`, signed with `key`.
    pub fn token(&self, key: &TestKey) -> String {
        self.idp.token("acme", key).claim("aud", AUD).sign()
    }
}
