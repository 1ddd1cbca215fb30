//! One-time secrets (API keys, feedback links, calendar feeds): random, and stored
//! only as their SHA-256, so the database never holds a usable secret.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes, in hex.
pub fn new_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex(&buffer)
}

/// What is stored for `token`: its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
