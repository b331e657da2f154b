//! Password credentials in Keycloak's stored format (`secretData` / `credentialData` JSON
//! strings), so users migrate with their hashes. New hashes are Argon2id with Keycloak's
//! default parameters; `pbkdf2`, `pbkdf2-sha256` and `pbkdf2-sha512` hashes are verified.

use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::{json, Value};

use super::{b64, b64_decode, random_bytes, CryptoError};

/// Argon2id parameters for new hashes: OWASP's recommendation (m=19456 KiB, t=2, p=1), which
/// is stronger than Keycloak's default (m=7168, t=5). Hashes are stored in Keycloak's format
/// with their parameters, so Keycloak can verify them after a migration back.
const ARGON2_MEMORY_KIB: u32 = 19456;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_PARALLELISM: u32 = 1;
const ARGON2_HASH_LEN: usize = 32;

/// Argon2 working memory, reused: allocating (and faulting in) 19 MiB per hash cost about a
/// quarter of a password check. A pool rather than one buffer per thread, so that whichever
/// blocking thread hashes takes the buffer used last (one per concurrent hash, not one per
/// thread the runtime ever started). Every block is written before it is read, so old contents
/// never reach a result. Buffers idle for a while are freed ([`release_idle_memory`]), so a
/// server that hashed under load does not keep that memory for ever.
static ARGON2_MEMORY: MemoryPool = MemoryPool::new();

/// Reusable Argon2 working memories, each with when it was last put back.
struct MemoryPool(std::sync::Mutex<Vec<(Vec<argon2::Block>, std::time::Instant)>>);

impl MemoryPool {
    const fn new() -> Self {
        MemoryPool(std::sync::Mutex::new(Vec::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<argon2::Block>, std::time::Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The buffer put back last, or an empty one.
    fn take(&self) -> Vec<argon2::Block> {
        self.lock().pop().map(|(m, _)| m).unwrap_or_default()
    }

    fn put(&self, m: Vec<argon2::Block>, now: std::time::Instant) {
        self.lock().push((m, now));
    }

    /// Frees the buffers not used since `idle` before `now`; returns the bytes freed.
    fn release_idle(&self, now: std::time::Instant, idle: std::time::Duration) -> usize {
        let idle: Vec<Vec<argon2::Block>> = {
            let mut pool = self.lock();
            let (gone, kept) = std::mem::take(&mut *pool)
                .into_iter()
                .partition(|(_, used)| now.saturating_duration_since(*used) >= idle);
            *pool = kept;
            gone.into_iter().map(|(m, _)| m).collect()
        };
        let bytes =
            idle.iter().map(|m| m.len()).sum::<usize>() * std::mem::size_of::<argon2::Block>();
        if !idle.is_empty() {
            // Freed on a thread of its own: the allocator (mimalloc in the binary) keeps freed
            // memory for reuse and hands it back to the system when a thread ends.
            // (Should no thread start, the closure and the memory are dropped here instead.)
            let _ = std::thread::Builder::new()
                .name("portcullis-free".into())
                .spawn(move || drop(idle));
        }
        bytes
    }
}

/// Frees the Argon2 working memories no hash has used for `idle` (the server calls this
/// periodically); returns the bytes freed.
pub fn release_idle_memory(idle: std::time::Duration) -> usize {
    ARGON2_MEMORY.release_idle(std::time::Instant::now(), idle)
}

/// Argon2 into `out`, with a pooled working memory.
fn argon2_into(
    a: &Argon2<'_>,
    blocks: usize,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let mut m = ARGON2_MEMORY.take();
    if m.len() < blocks {
        m.resize(blocks, argon2::Block::default());
    }
    let result = a
        .hash_password_into_with_memory(pwd, salt, out, &mut m[..blocks])
        .map_err(|e| CryptoError(format!("argon2: {e}")));
    ARGON2_MEMORY.put(m, std::time::Instant::now());
    result
}

/// Runs password hashing off the async workers, at most one hash per available core at a time:
/// each Argon2 hash walks 19 MiB, and more of them at once than cores only thrash the caches
/// (and lets a burst of logins queue unbounded threads).
pub async fn off_thread<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, CryptoError> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        )
    });
    let _permit = permits
        .acquire()
        .await
        .map_err(|_| CryptoError("hashing unavailable".into()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| CryptoError("hashing task failed".into()))
}

/// A hashed password as Keycloak stores it.
#[derive(Debug, Clone)]
pub struct StoredPassword {
    /// `secretData` (JSON string): `{"value", "salt", "additionalParameters"}`.
    pub secret_data: String,
    /// `credentialData` (JSON string): `{"hashIterations", "algorithm", "additionalParameters"}`.
    pub credential_data: String,
}

/// Hashes a new password with Argon2id.
pub fn hash(password: &str) -> Result<StoredPassword, CryptoError> {
    let salt = random_bytes(16)?;
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        Some(ARGON2_HASH_LEN),
    )
    .map_err(|e| CryptoError(format!("argon2 parameters: {e}")))?;
    let mut out = vec![0u8; ARGON2_HASH_LEN];
    let blocks = params.block_count();
    argon2_into(
        &Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        blocks,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    Ok(StoredPassword {
        secret_data: json!({"value": b64(&out), "salt": b64(&salt), "additionalParameters": {}})
            .to_string(),
        credential_data: json!({
            "hashIterations": ARGON2_ITERATIONS,
            "algorithm": "argon2",
            "additionalParameters": {
                "hashLength": [ARGON2_HASH_LEN.to_string()],
                "memory": [ARGON2_MEMORY_KIB.to_string()],
                "type": ["id"],
                "version": ["1.3"],
                "parallelism": [ARGON2_PARALLELISM.to_string()]
            }
        })
        .to_string(),
    })
}

fn param(cd: &Value, name: &str) -> Option<String> {
    cd.get("additionalParameters")?
        .get(name)?
        .get(0)?
        .as_str()
        .map(str::to_string)
}

/// Whether a stored hash should be replaced by a new Argon2id hash after a successful login
/// (imported pbkdf2 hashes, or Argon2 with other parameters).
pub fn needs_rehash(credential_data: &str) -> bool {
    let Ok(cd) = serde_json::from_str::<Value>(credential_data) else {
        return false;
    };
    if cd.get("algorithm").and_then(Value::as_str) != Some("argon2") {
        return true;
    }
    param(&cd, "memory").as_deref() != Some(&ARGON2_MEMORY_KIB.to_string())
        || cd.get("hashIterations").and_then(Value::as_u64) != Some(u64::from(ARGON2_ITERATIONS))
        || param(&cd, "type").as_deref() != Some("id")
}

/// Spends the time of one password check on a hash that matches nothing, so that an unknown
/// user name takes as long to refuse as a wrong password (no user enumeration by timing).
pub fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<StoredPassword>> = std::sync::OnceLock::new();
    if let Some(d) = DUMMY.get_or_init(|| hash("portcullis-dummy-password").ok()) {
        let _ = verify(password, &d.secret_data, &d.credential_data);
    }
}

/// Checks that a stored credential is one we can verify; the error names what is wrong.
pub fn check_supported(secret_data: &str, credential_data: &str) -> Result<(), CryptoError> {
    let sd: Value = serde_json::from_str(secret_data)
        .map_err(|e| CryptoError(format!("secretData is not JSON: {e}")))?;
    let cd: Value = serde_json::from_str(credential_data)
        .map_err(|e| CryptoError(format!("credentialData is not JSON: {e}")))?;
    for field in ["value", "salt"] {
        let v = sd
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| CryptoError(format!("secretData.{field} is missing")))?;
        b64_decode(v).map_err(|e| CryptoError(format!("secretData.{field}: {e}")))?;
    }
    match cd.get("algorithm").and_then(Value::as_str) {
        Some("argon2" | "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512") => Ok(()),
        Some(other) => Err(CryptoError(format!("credentialData.algorithm '{other}' is not supported (argon2, pbkdf2, pbkdf2-sha256, pbkdf2-sha512)"))),
        None => Err(CryptoError("credentialData.algorithm is missing".into())),
    }
}

/// Verifies `password` against a stored Keycloak credential, in constant time.
pub fn verify(
    password: &str,
    secret_data: &str,
    credential_data: &str,
) -> Result<bool, CryptoError> {
    check_supported(secret_data, credential_data)?;
    let sd: Value = serde_json::from_str(secret_data).map_err(|e| CryptoError(e.to_string()))?;
    let cd: Value =
        serde_json::from_str(credential_data).map_err(|e| CryptoError(e.to_string()))?;
    let expected = b64_decode(sd["value"].as_str().unwrap_or_default())?;
    let salt = b64_decode(sd["salt"].as_str().unwrap_or_default())?;
    let iterations = cd
        .get("hashIterations")
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    let mut actual = vec![0u8; expected.len().max(1)];
    match cd["algorithm"].as_str().unwrap_or_default() {
        "argon2" => {
            let num = |n: &str, d: u32| param(&cd, n).and_then(|v| v.parse().ok()).unwrap_or(d);
            let alg = match param(&cd, "type").as_deref() {
                Some("i") => Algorithm::Argon2i,
                Some("d") => Algorithm::Argon2d,
                _ => Algorithm::Argon2id,
            };
            let version = if param(&cd, "version").as_deref() == Some("1.0") {
                Version::V0x10
            } else {
                Version::V0x13
            };
            let params = Params::new(
                num("memory", ARGON2_MEMORY_KIB),
                iterations.max(1),
                num("parallelism", 1),
                Some(expected.len()),
            )
            .map_err(|e| CryptoError(format!("argon2 parameters: {e}")))?;
            let blocks = params.block_count();
            argon2_into(
                &Argon2::new(alg, version, params),
                blocks,
                password.as_bytes(),
                &salt,
                &mut actual,
            )?;
        }
        algorithm => {
            let alg = match algorithm {
                "pbkdf2" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
                "pbkdf2-sha512" => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA512,
                _ => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            };
            let iterations = std::num::NonZeroU32::new(iterations)
                .ok_or_else(|| CryptoError("hashIterations must be positive".into()))?;
            return Ok(aws_lc_rs::pbkdf2::verify(
                alg,
                iterations,
                &salt,
                password.as_bytes(),
                &expected,
            )
            .is_ok());
        }
    }
    Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&actual, &expected).is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {

    #[test]
    fn idle_argon2_memory_is_freed_and_recent_memory_kept() {
        use std::time::{Duration, Instant};
        let pool = super::MemoryPool::new();
        let t0 = Instant::now();
        let block = std::mem::size_of::<argon2::Block>();
        pool.put(vec![argon2::Block::default(); 8], t0);
        pool.put(
            vec![argon2::Block::default(); 4],
            t0 + Duration::from_secs(20),
        );
        // At t0+25s with 10s of idleness allowed, only the buffer put back at t0 goes.
        assert_eq!(
            pool.release_idle(t0 + Duration::from_secs(25), Duration::from_secs(10)),
            8 * block
        );
        assert_eq!(pool.take().len(), 4);
        assert!(pool.take().is_empty(), "nothing else is pooled");
        pool.put(vec![argon2::Block::default(); 2], t0);
        assert_eq!(
            pool.release_idle(t0 + Duration::from_secs(5), Duration::from_secs(10)),
            0
        );
    }

    #[test]
    fn the_pool_is_empty_once_every_buffer_has_been_idle_long_enough() {
        use std::time::{Duration, Instant};
        let pool = super::MemoryPool::new();
        let t0 = Instant::now();
        let idle = Duration::from_secs(30);
        let blocks = super::ARGON2_MEMORY_KIB as usize;
        let block = std::mem::size_of::<argon2::Block>();
        // Four concurrent hashes, the last one finishing at t0+3s.
        for s in 0..4 {
            pool.put(
                vec![argon2::Block::default(); blocks],
                t0 + Duration::from_secs(s),
            );
        }
        // Just short of the idle time after the last hash: the last buffer stays.
        assert_eq!(
            pool.release_idle(t0 + Duration::from_millis(32_999), idle),
            3 * blocks * block
        );
        assert_eq!(pool.lock().len(), 1);
        assert_eq!(
            pool.release_idle(t0 + Duration::from_secs(33), idle),
            blocks * block
        );
        assert!(pool.lock().is_empty(), "nothing is pooled any more");
        assert_eq!(pool.release_idle(t0 + Duration::from_secs(99), idle), 0);
    }

    use super::*;

    #[test]
    fn new_hashes_verify() {
        let h = hash("s3cret!").unwrap();
        assert!(verify("s3cret!", &h.secret_data, &h.credential_data).unwrap());
        assert!(!verify("s3cret", &h.secret_data, &h.credential_data).unwrap());
    }

    #[test]
    fn keycloak_pbkdf2_sha256_hash_verifies() {
        // python3 -c "import hashlib,base64;print(base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'password',b'0123456789abcdef',27500,64)).decode())"
        let sd = r#"{"value":"VALUE","salt":"MDEyMzQ1Njc4OWFiY2RlZg==","additionalParameters":{}}"#
            .replace("VALUE", include_str!("testdata/pbkdf2-sha256.b64").trim());
        let cd =
            r#"{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}"#;
        assert!(verify("password", &sd, cd).unwrap());
        assert!(!verify("Password", &sd, cd).unwrap());
    }

    #[test]
    fn imported_hashes_are_upgraded() {
        assert!(needs_rehash(
            r#"{"hashIterations":27500,"algorithm":"pbkdf2-sha256"}"#
        ));
        assert!(needs_rehash(
            r#"{"hashIterations":5,"algorithm":"argon2","additionalParameters":{"memory":["7168"],"type":["id"]}}"#
        ));
        assert!(!needs_rehash(&hash("x").unwrap().credential_data));
    }

    #[test]
    fn unsupported_algorithms_are_named() {
        let e = check_supported(
            r#"{"value":"AA==","salt":"AA=="}"#,
            r#"{"algorithm":"bcrypt"}"#,
        )
        .unwrap_err();
        assert!(e.0.contains("bcrypt"));
    }
}
