//! The Argon2id hash rate of one thread for a few seconds: `crypto::password::hash`, the
//! function the criterion bench `crypto` measures as "password/argon2id m=19456 t=2 p=1", in a
//! loop, after one hash that faults the working memory in. `bench/mfa.sh` alternates short
//! windows of this with short windows of login load, so that the ceiling and the logins sample
//! the same minutes of a host whose speed drifts.
//!
//! ```text
//! cargo run --release --example argon2_rate -- [seconds=3]
//! ```
//! Prints `hashes <n> seconds <s>`.

#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use portcullis::crypto::password;

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(3.0, |s| s.parse().expect("seconds"));
    password::hash("correct horse battery staple").expect("hash");
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        password::hash("correct horse battery staple").expect("hash");
        n += 1;
    }
    println!("hashes {n} seconds {:.6}", start.elapsed().as_secs_f64());
}
