//! The hash functions Statsig uses to bucket users.

use sha2::{Digest, Sha256};

/// The first 8 bytes of SHA-256 over `input`, read as a big-endian `u64`.
///
/// ```
/// let h = flagcore::hash::sha256_u64(b"salt.rule.user");
/// assert_eq!(h, flagcore::hash::sha256_u64(b"salt.rule.user"));
/// ```
pub fn sha256_u64(input: &[u8]) -> u64 {
    let digest = Sha256::digest(input);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_sha256_prefix() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(sha256_u64(b"abc"), 0xba78_16bf_8f01_cfea);
    }
}
