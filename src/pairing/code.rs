//! Pairing codes and their salted hashes (CAC §3.4). The plaintext code is only ever shown to
//! the user who asked; files keep `sha256(salt_hex + CODE)` as Hermes does.

use ring::rand::{SecureRandom, SystemRandom};

/// 32 symbols without 0/O/1/I, so a code read aloud is unambiguous.
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 8;

/// A fresh code from the system's secure RNG (32 divides 256, so `byte % 32` is unbiased).
pub fn new_code() -> Option<String> {
    let mut bytes = [0u8; CODE_LEN];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| ALPHABET[(*b as usize) % 32] as char).collect())
}

/// 16 random bytes as 32 hex digits (Python's `secrets.token_hex(16)`).
pub fn new_salt() -> Option<String> {
    random_hex(16)
}

/// `n` random bytes as hex (entry ids use 8 bytes: 16 hex digits).
pub fn random_hex(n: usize) -> Option<String> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// `hashlib.sha256((salt + code).encode()).hexdigest()`.
pub fn hash(salt: &str, code: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{salt}{code}").as_bytes());
    hex(digest.as_ref())
}

/// Compares two hashes without an early exit on the first difference.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Upper-cased and trimmed, as `approve_code` normalises what the operator typed (codes are
/// ASCII; anything else can never match).
pub fn normalise(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_differ() {
        let a = new_code().unwrap();
        let b = new_code().unwrap();
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
        assert_eq!(new_salt().unwrap().len(), 32);
    }

    #[test]
    fn hash_matches_python() {
        // python3 -c 'import hashlib;print(hashlib.sha256(("00ff"+"ABCD2345").encode()).hexdigest())'
        assert_eq!(
            hash("00ff", "ABCD2345"),
            hex(ring::digest::digest(&ring::digest::SHA256, b"00ffABCD2345").as_ref())
        );
        assert_eq!(hash("", "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(same(&hash("s", "X"), &hash("s", "X")));
        assert!(!same(&hash("s", "X"), &hash("s", "Y")));
        assert!(!same("ab", "abc"));
        assert_eq!(normalise(" abcd2345\n"), "ABCD2345");
    }
}
