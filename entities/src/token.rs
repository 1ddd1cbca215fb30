//! One-time secrets (API keys, sessions, sign-in codes, feedback links, calendar feeds): random, and stored
//! only as their SHA-256, so the database never holds a usable secret.

use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// `bytes` random bytes, in hex.
pub fn new_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex(&buffer)
}

/// A one-time code to type: six random digits.
pub fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// What is stored for the code `code` of the challenge `salt`: codes are short, so the
/// hash is bound to the challenge it was made for.
pub fn hash_code(salt: &str, code: &str) -> String {
    hash_token(&format!("{salt}:{code}"))
}

/// What is stored for `token`: its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// `bytes` in lowercase hex. Every authenticated request hashes its key, some twice.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&bytes), expected);
        assert_eq!(super::hex(&[]), "");
    }
}
