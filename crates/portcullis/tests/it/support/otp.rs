//! One-time passwords as a user's authenticator app computes them, and OTP credentials in
//! Keycloak's stored shape.

use serde_json::{json, Value};

/// An `otp` credential (TOTP, HMAC-SHA1, 6 digits, 30 s) in Keycloak's export shape.
pub fn otp_credential(secret: &str, label: &str) -> Value {
    json!({
        "type": "otp", "userLabel": label,
        "secretData": json!({ "value": secret }).to_string(),
        "credentialData": json!({ "subType": "totp", "digits": 6, "counter": 0, "period": 30, "algorithm": "HmacSHA1" }).to_string()
    })
}

/// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) of `secret` at `offset` seconds from now.
pub fn totp(secret: &str, offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let counter = ((now + offset) / 30) as u64;
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        secret.as_bytes(),
    );
    let tag = aws_lc_rs::hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let o = (h[h.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(h[o] & 0x7f) << 24)
        | (u32::from(h[o + 1]) << 16)
        | (u32::from(h[o + 2]) << 8)
        | u32::from(h[o + 3]);
    format!("{:06}", bin % 1_000_000)
}
