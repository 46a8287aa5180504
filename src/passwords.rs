//! Passwords: what a new one must be, and how they are hashed and checked.
//!
//! Hashing is Argon2id (19 MiB, 2 passes, 1 lane: OWASP's minimum) on a fixed set of
//! threads, one per core by default, so a flood of sign-ins queues here instead of
//! starving the async runtime that answers session checks. Checking a password for a user who
//! does not exist runs against a dummy hash, so the answer takes the same time.

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub const MIN_CHARS: usize = 8;
/// Long enough for any passphrase; short enough that nobody makes us hash a megabyte.
pub const MAX_CHARS: usize = 128;

/// A password as typed. It cannot be printed and is wiped from memory when dropped.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
}

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh random password of 16 characters that meets the policy: for resets.
    pub fn generate() -> Self {
        use rand::RngExt;
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::rng();
        let s: String = (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
        Self::from(s)
    }
}

/// Checks that `password` may be chosen by the user with these `user_inputs` (username,
/// email...): length limits, then a strength estimate that rejects common passwords,
/// dictionary words with predictable changes, and variations of the user's own names.
pub fn check_new(password: &Password, user_inputs: &[&str]) -> Result<()> {
    let chars = password.expose().chars().count();
    if chars < MIN_CHARS {
        return Err(Error::invalid("password", format!("use at least {MIN_CHARS} characters")));
    }
    if chars > MAX_CHARS {
        return Err(Error::invalid("password", format!("use at most {MAX_CHARS} characters")));
    }
    let estimate = zxcvbn::zxcvbn(password.expose(), user_inputs);
    if estimate.score() < zxcvbn::Score::Three {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "add more words or characters that are hard to guess".to_owned());
        return Err(Error::invalid("password", format!("this password is too easy to guess: {hint}")));
    }
    Ok(())
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// Hashes and verifies passwords on its own fixed set of threads. Each thread owns the
/// Argon2 working memory (19 MiB) and reuses it, so memory stays at threads × 19 MiB and
/// no hash pays for fresh pages, however many sign-ins arrive; extra requests wait their
/// turn in a queue.
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::Sender<Job>,
    dummy: Arc<str>,
    /// Places taken (see [`Slot`]) whose hash has not started; past `max_waiting` new
    /// ones are refused at once, so a flood of sign-ins costs neither unbounded memory
    /// nor unbounded waits.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
}

impl Hasher {
    /// `threads` hash at once; at most `max_waiting` more wait their turn.
    pub fn new(threads: usize, max_waiting: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    yield_to_requests();
                    let mut workspace = Workspace::default();
                    loop {
                        // The lock is held only while taking a job, never while running it.
                        let next = queue.lock().expect("hash queue").recv();
                        match next {
                            Ok(job) => job(&mut workspace),
                            Err(_) => break, // every Hasher is gone
                        }
                    }
                })
                .expect("a hashing thread starts");
        }
        let dummy = Workspace::default().hash(&Password::generate()).expect("hashing a random password");
        Self { jobs, dummy: dummy.into(), waiting: Default::default(), max_waiting: max_waiting.max(1) }
    }

    /// Checks a new password against the policy, then hashes it.
    pub async fn hash_new(&self, password: Password, user_inputs: Vec<String>) -> Result<String> {
        self.run(move |workspace| {
            let inputs: Vec<&str> = user_inputs.iter().map(String::as_str).collect();
            check_new(&password, &inputs)?;
            workspace.hash(&password)
        })
        .await
    }

    /// A place in the queue, or `Overloaded` at once when it is full. A sign-in takes it
    /// before anything else, so one that would be shed costs no database write.
    pub fn slot(&self) -> Result<Slot> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::Overloaded);
        }
        Ok(Slot { waiting: self.waiting.clone() })
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown user) it does
    /// the same work against a dummy and answers false.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool> {
        self.verify_in(self.slot()?, password, stored).await
    }

    /// [`Hasher::verify`] in a place taken beforehand.
    pub async fn verify_in(&self, slot: Slot, password: Password, stored: Option<String>) -> Result<bool> {
        let dummy = self.dummy.clone();
        self.run_in(slot, move |workspace| {
            let (hash, known) = match &stored {
                Some(h) => (h.as_str(), true),
                None => (&*dummy, false),
            };
            let matches = workspace.verify(&password, hash)?;
            Ok(known && matches)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Workspace) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.run_in(self.slot()?, job).await
    }

    async fn run_in<T: Send + 'static>(
        &self,
        slot: Slot,
        job: impl FnOnce(&mut Workspace) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |workspace| {
            drop(slot); // started: no longer waiting
            let _ = answer.send(job(workspace));
        });
        self.jobs.send(job).map_err(|_| anyhow::anyhow!("the hashing threads are gone"))?;
        result.await.map_err(|_| anyhow::anyhow!("a hashing thread failed"))?
    }
}

/// How much a hashing thread yields to the threads that answer requests (a nice value):
/// when both want the cores, requests such as the session check go first and sign-ins
/// wait, or beyond the queue are shed. Idle cores still hash at full speed.
const HASHING_NICENESS: i32 = 10;

fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICENESS) {
        tracing::warn!(error = %e, "cannot lower the hashing threads' priority");
    }
}

/// A place in the hasher's queue, held from before a request's first write until its
/// hash starts (or the request gives up).
#[derive(Debug)]
pub struct Slot {
    waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// One thread's Argon2 working memory, kept from one hash to the next.
#[derive(Default)]
struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        self.blocks.resize(params.block_count(), Block::new());
        &mut self.blocks
    }

    /// A PHC string of Argon2id with the default (OWASP) parameters and a random salt.
    fn hash(&mut self, password: &Password) -> Result<String> {
        let params = Params::default();
        let salt: [u8; 16] = rand::random();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        Argon2::from(&params)
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                &salt,
                &mut out,
                self.blocks(&params),
            )
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("{e}"))?,
            salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("{e}"))?),
            hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `stored`, under the parameters it names.
    fn verify(&mut self, password: &Password, stored: &str) -> Result<bool> {
        let bad = |e: &dyn fmt::Display| Error::Unexpected(anyhow::anyhow!("stored password hash: {e}"));
        let parsed = PasswordHash::new(stored).map_err(|e| bad(&e))?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err(bad(&"no salt or hash"));
        };
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| bad(&e))?;
        let version = Version::try_from(parsed.version.unwrap_or(0x13)).map_err(|e| bad(&e))?;
        let params = Params::try_from(&parsed).map_err(|e| bad(&e))?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt,
                &mut out,
                self.blocks(&params),
            )
            .map_err(|e| bad(&e))?;
        Ok(out.ct_eq(expected.as_bytes()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::from(s.to_owned())
    }

    #[test]
    fn short_long_and_common_passwords_are_refused_with_the_field_named() {
        for bad in ["short", "password123", "qwertyuiop", "iloveyou1", &"x".repeat(129)] {
            match check_new(&pw(bad), &[]) {
                Err(Error::Invalid { field: "password", .. }) => {}
                other => panic!("{bad:?} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn a_password_made_of_the_username_is_refused() {
        assert!(check_new(&pw("dispatcher2024"), &["dispatcher2024"]).is_err());
    }

    #[test]
    fn strong_and_generated_passwords_are_accepted() {
        assert!(check_new(&pw("Vq8#mLz2!pRt"), &[]).is_ok());
        assert!(check_new(&Password::generate(), &[]).is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password_and_unknown_users_never_match() {
        let hasher = Hasher::new(2, 16);
        let hash = hasher.hash_new(pw("Vq8#mLz2!pRt"), vec![]).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify(pw("Vq8#mLz2!pRt"), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify(pw("Vq8#mLz2!pRx"), Some(hash)).await.unwrap());
        assert!(!hasher.verify(pw("Vq8#mLz2!pRt"), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_by_the_reference_implementation_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let reference = Argon2::default().hash_password(b"Vq8#mLz2!pRt").unwrap().to_string();
        let hasher = Hasher::new(1, 16);
        assert!(hasher.verify(pw("Vq8#mLz2!pRt"), Some(reference)).await.unwrap());
        let ours = hasher.hash_new(pw("Vq8#mLz2!pRt"), vec![]).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"Vq8#mLz2!pRt", &parsed).is_ok());
    }
}
