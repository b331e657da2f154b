//! A software WebAuthn authenticator (ECDSA P-256, `none` attestation) run by the tests in
//! place of a browser and a security key: it answers the options a page carries as
//! `navigator.credentials.create`/`get` would, and gives the form fields the page's script
//! posts. It signs with aws-lc-rs and encodes CBOR by hand, independent of the server's
//! verifier (webauthn-rs-core over OpenSSL). Knobs for the refusal tests: another origin, a
//! counter set back, a key swapped.
//!
//! Why not `webauthn-authenticator-rs`'s `SoftPasskey`: it returns no `userHandle` and needs
//! `allowCredentials`, so it cannot log in with a discoverable credential (passkeys), and it
//! keeps one counter for all its keys.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

use super::b64url;

fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap()
}

fn sha256(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

/// CBOR head of major type `major` with length/value `n`.
fn head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=255 => vec![m | 24, n as u8],
        _ => {
            let mut v = vec![m | 25];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v
        }
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    let mut v = head(2, b.len());
    v.extend_from_slice(b);
    v
}

fn cbor_text(s: &str) -> Vec<u8> {
    let mut v = head(3, s.len());
    v.extend_from_slice(s.as_bytes());
    v
}

/// One credential the authenticator holds.
pub struct SoftCredential {
    pub id: Vec<u8>,
    key: EcdsaKeyPair,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    pub counter: u32,
}

impl SoftCredential {
    /// The COSE_Key (EC2, ES256, P-256) of the public key.
    fn cose(&self) -> Vec<u8> {
        let pk = self.key.public_key().as_ref();
        let (x, y) = (&pk[1..33], &pk[33..65]);
        let mut v = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        v.extend(cbor_bytes(x));
        v.push(0x22);
        v.extend(cbor_bytes(y));
        v
    }

    /// Swaps the private key (the credential id stays): signatures no longer match.
    pub fn replace_key(&mut self) {
        self.key = new_key();
    }
}

fn new_key() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap()
}

#[derive(Default)]
pub struct SoftAuthenticator {
    pub credentials: Vec<SoftCredential>,
}

impl SoftAuthenticator {
    /// `navigator.credentials.create` for the page's `options` seen from `origin`: the
    /// registration form fields (`clientDataJSON`, `attestationObject`,
    /// `publicKeyCredentialId`, `transports`, `authenticatorLabel`).
    pub fn create(&mut self, options: &Value, origin: &str, label: &str) -> Vec<(String, String)> {
        let rp_id = options["rp"]["id"].as_str().unwrap().to_string();
        let user_handle = unb64(options["user"]["id"].as_str().unwrap());
        let mut id = vec![0u8; 16];
        aws_lc_rs::rand::fill(&mut id).unwrap();
        let cred = SoftCredential {
            id: id.clone(),
            key: new_key(),
            rp_id: rp_id.clone(),
            user_handle,
            counter: 1,
        };
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false
        })
        .to_string();
        // authData: rpIdHash, flags UP|UV|AT, counter, AAGUID (zero), id length, id, key.
        let mut auth = sha256(rp_id.as_bytes());
        auth.push(0x45);
        auth.extend_from_slice(&cred.counter.to_be_bytes());
        auth.extend_from_slice(&[0u8; 16]);
        auth.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth.extend_from_slice(&id);
        auth.extend(cred.cose());
        let mut att = vec![0xa3];
        att.extend(cbor_text("fmt"));
        att.extend(cbor_text("none"));
        att.extend(cbor_text("attStmt"));
        att.push(0xa0);
        att.extend(cbor_text("authData"));
        att.extend(cbor_bytes(&auth));
        self.credentials.push(cred);
        vec![
            ("clientDataJSON".into(), b64url(client_data.as_bytes())),
            ("attestationObject".into(), b64url(&att)),
            ("publicKeyCredentialId".into(), b64url(&id)),
            ("transports".into(), "usb".into()),
            ("authenticatorLabel".into(), label.into()),
        ]
    }

    /// `navigator.credentials.get` with credential `index` for the page's `options` seen from
    /// `origin`: the authentication form fields. The counter goes up by one first.
    pub fn get(&mut self, index: usize, options: &Value, origin: &str) -> Vec<(String, String)> {
        let cred = &mut self.credentials[index];
        cred.counter += 1;
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false
        })
        .to_string();
        let mut auth = sha256(cred.rp_id.as_bytes());
        auth.push(0x05);
        auth.extend_from_slice(&cred.counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend(sha256(client_data.as_bytes()));
        let sig = cred.key.sign(&SystemRandom::new(), &signed).unwrap();
        vec![
            ("clientDataJSON".into(), b64url(client_data.as_bytes())),
            ("authenticatorData".into(), b64url(&auth)),
            ("signature".into(), b64url(sig.as_ref())),
            ("credentialId".into(), b64url(&cred.id)),
            ("userHandle".into(), b64url(&cred.user_handle)),
            ("error".into(), String::new()),
        ]
    }
}

/// The options a WebAuthn page carries for its script.
pub fn page_options(html: &str) -> Value {
    let start = html
        .find("id=\"kc-webauthn-options\">")
        .unwrap_or_else(|| panic!("no WebAuthn options in {html}"))
        + "id=\"kc-webauthn-options\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}
