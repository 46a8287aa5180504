//! The raw Argon2id rate on this machine: the ceiling for sign-ins per second. Runs the
//! server's parameters on one thread per core (or `HASH_THREADS`), each reusing its
//! working memory as the server's hashing threads do, for `SECONDS` (default 10), and
//! prints `hashes/s`.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use argon2::{Argon2, Block, Params};

fn main() {
    let threads: usize = std::env::var("HASH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let seconds: u64 = std::env::var("SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let params = Params::default();
                let mut blocks = vec![Block::new(); params.block_count()];
                let mut out = [0u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    Argon2::from(&params)
                        .hash_password_into_with_memory(
                            b"Portcullis-bench-password",
                            b"sixteen-byte-slt",
                            &mut out,
                            &mut blocks,
                        )
                        .expect("the default parameters hash");
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
