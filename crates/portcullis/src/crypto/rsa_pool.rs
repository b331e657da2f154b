//! RSA-2048 key pairs generated ahead of need. Generating one takes 50 to 150 ms of CPU, and a
//! new realm needs two (`rsa-generated` and `rsa-enc-generated`) at its first use
//! (`realm::lazy_keys`), so that first request would wait for them. A taken key is replaced by
//! a background thread, so realms put to use one after another find their keys ready; when
//! the pool is empty (the first keys of a process, or a burst larger than the pool) the key is
//! generated in place. Keys are never
//! reused: each is handed out once and dropped from the pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};

use super::CryptoError;

/// Key pairs kept ready.
const TARGET: usize = 4;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
static REFILLING: AtomicBool = AtomicBool::new(false);

/// A fresh RSA-2048 key pair as PKCS#8 DER.
fn generate() -> Result<Vec<u8>, CryptoError> {
    let failed = |what: &str| CryptoError(format!("key generation failed: {what}"));
    let kp = KeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("RSA"))?;
    Ok(kp
        .as_der()
        .map_err(|_| failed("RSA encoding"))?
        .as_ref()
        .to_vec())
}

fn pooled() -> usize {
    POOL.lock().map(|p| p.len()).unwrap_or(TARGET)
}

/// Starts one background thread that fills the pool up to [`TARGET`], unless one runs.
fn refill() {
    if REFILLING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("rsa-key-pool".into())
        .spawn(|| {
            while pooled() < TARGET {
                let Ok(k) = generate() else { break };
                match POOL.lock() {
                    Ok(mut p) => p.push(k),
                    Err(_) => break,
                }
            }
            REFILLING.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        REFILLING.store(false, Ordering::Release);
    }
}

/// An RSA-2048 key pair (PKCS#8 DER) never handed out before: from the pool when one is
/// ready, else generated now; either way the pool is refilled in the background.
pub fn take() -> Result<Vec<u8>, CryptoError> {
    let ready = POOL.lock().ok().and_then(|mut p| p.pop());
    refill();
    match ready {
        Some(k) => Ok(k),
        None => generate(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_handed_out_once() {
        let keys: Vec<Vec<u8>> = (0..6).map(|_| take().unwrap()).collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(KeyPair::from_pkcs8(a).is_ok());
            assert!(keys[i + 1..].iter().all(|b| b != a));
        }
    }
}
