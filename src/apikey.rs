//! API keys: generation, hashing and constant-time comparison. Keys are 256 random bits; the
//! file stores only their SHA-256, so a copy of the database does not leak working keys. A slow
//! password hash is not needed for keys with this much entropy (the alternative turned down:
//! argon2, which would cost milliseconds on every request).

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a server trusts a lookup that found a key live (its key cache, `api::key_cache`),
/// counted from when the lookup was sent. `schedlite keys revoke` waits this long after its
/// commit before it returns, so that from then on no server accepts the key.
pub const LOOKUP_TRUST: std::time::Duration = std::time::Duration::from_secs(1);

/// Prefix of every generated key, so one found in a log or a repository is recognisable.
pub const KEY_PREFIX: &str = "sl_";

/// A new random key: `sl_` followed by 64 hex digits.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a key: lowercase hex SHA-256 of its UTF-8 bytes.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two hashes in constant time (for equal lengths), so response timing does not reveal
/// how much of a guess matched.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Checks a key supplied from outside (environment, flag) before it is provisioned: at least 16
/// characters, printable ASCII without spaces, so it can travel in a header.
pub fn validate_supplied(key: &str) -> Result<(), String> {
    if key.len() < 16 {
        return Err(format!(
            "must be at least 16 characters long, got {}",
            key.len()
        ));
    }
    if key.len() > 256 {
        return Err("must be at most 256 characters long".into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_prefixed_and_hash_to_64_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), 3 + 64);
        let h = hash(&a);
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!h.contains(&a[3..]), "the hash must not contain the key");
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equality_is_exact() {
        let h = hash("k1");
        assert!(hashes_equal(&h, &hash("k1")));
        assert!(!hashes_equal(&h, &hash("k2")));
        assert!(!hashes_equal(&h, &h[..63]));
    }

    #[test]
    fn supplied_keys_are_checked() {
        assert!(validate_supplied("short").is_err());
        assert!(validate_supplied("has a space in the middle").is_err());
        assert!(validate_supplied("0123456789abcdef").is_ok());
    }
}
