//! The raw Argon2id rate on this machine: the ceiling for sign-ins per second. Runs the
//! server's own parameters on one thread per core (or `HASH_THREADS`) for a few seconds
//! and prints `hashes/s`.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

fn main() {
    let threads: usize = std::env::var("HASH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let stored = Argon2::default()
        .hash_password(b"Portcullis-bench-password")
        .unwrap()
        .to_string();
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let parsed = PasswordHash::new(&stored).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    Argon2::default()
                        .verify_password(b"Portcullis-bench-password", &parsed)
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("threads={threads} hashes/s={rate:.1}");
}
