//! The hash functions Statsig uses to bucket users.
//!
//! Statsig buckets a unit with the first 8 bytes of SHA-256 over `salt.ruleSalt.unitID`
//! (spec section 7). The salts are fixed for a ruleset, and often longer than a SHA-256
//! block, so [`Prefix`] absorbs them once at load time: an evaluation then hashes only the
//! unit id and the padding, usually one block.

use sha2::digest::generic_array::GenericArray;
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
    // in bounds: a SHA-256 digest has 32 bytes.
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// A constant prefix of a SHA-256 input, with its whole blocks already compressed.
///
/// ```
/// use flagcore::hash::{sha256_u64, Prefix};
///
/// let prefix = Prefix::new(b"a-long-spec-salt-0123456789abcdef.a-long-rule-salt-0123456789abcdef.");
/// assert_eq!(
///     prefix.hash_u64(b"user-42"),
///     sha256_u64(b"a-long-spec-salt-0123456789abcdef.a-long-rule-salt-0123456789abcdef.user-42"),
/// );
/// ```
#[derive(Clone)]
pub struct Prefix {
    state: [u32; 8],
    tail: [u8; 64],
    tail_len: u8,
    /// Bytes of the prefix already compressed into `state`.
    absorbed: u64,
    /// Equal ids mean equal prefixes (assigned by the loader; `u32::MAX`: unknown).
    pub(crate) id: u32,
}

impl core::fmt::Debug for Prefix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Prefix")
            .field("len", &(self.absorbed + u64::from(self.tail_len)))
            .finish()
    }
}

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

impl Prefix {
    /// Absorbs `prefix`.
    pub fn new(prefix: &[u8]) -> Prefix {
        let mut state = IV;
        let mut blocks = prefix.chunks_exact(64);
        for block in blocks.by_ref() {
            let mut b = [0u8; 64];
            b.copy_from_slice(block);
            compress(&mut state, &b);
        }
        let rest = blocks.remainder();
        let mut tail = [0u8; 64];
        // in bounds, and the cast is lossless: a `chunks_exact(64)` remainder is < 64 bytes.
        tail[..rest.len()].copy_from_slice(rest);
        Prefix {
            state,
            tail,
            tail_len: rest.len() as u8,
            absorbed: (prefix.len() - rest.len()) as u64,
            id: u32::MAX,
        }
    }

    /// The prefix with an identity: equal ids promise equal prefixes.
    pub(crate) fn with_id(mut self, id: u32) -> Prefix {
        self.id = id;
        self
    }

    /// The first 8 bytes of SHA-256 over the prefix followed by `rest`, as a big-endian
    /// `u64`. Allocates nothing.
    #[inline]
    pub fn hash_u64(&self, rest: &[u8]) -> u64 {
        let mut state = self.state;
        let mut block = self.tail;
        let mut used = usize::from(self.tail_len);
        // No overflow: inputs are far below 2^61 bytes.
        let total_bits = (self.absorbed + u64::from(self.tail_len) + rest.len() as u64) * 8;
        let mut input = rest;
        // in bounds (this function): `used` < 64 at the top of the loop and after it (a full
        // block is compressed and `used` reset), and `n` <= 64 - `used`.
        while !input.is_empty() {
            let n = input.len().min(64 - used);
            block[used..used + n].copy_from_slice(&input[..n]);
            used += n;
            input = &input[n..];
            if used == 64 {
                compress(&mut state, &block);
                block = [0u8; 64];
                used = 0;
            }
        }
        // Padding: 0x80, zeros, then the bit length in the last 8 bytes. The bytes from
        // `used` on are already zero: the tail is stored zero-filled, and a fresh block
        // starts zeroed.
        block[used] = 0x80;
        if used + 1 > 56 {
            compress(&mut state, &block);
            block = [0u8; 64];
        }
        block[56..].copy_from_slice(&total_bits.to_be_bytes());
        compress(&mut state, &block);
        (u64::from(state[0]) << 32) | u64::from(state[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_sha256_prefix() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(sha256_u64(b"abc"), 0xba78_16bf_8f01_cfea);
    }

    #[test]
    fn prefix_hashing_equals_plain_sha256_at_every_length() {
        let text: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
        for split in [0, 1, 55, 56, 63, 64, 65, 119, 128, 200] {
            for total in [
                split,
                split + 1,
                split + 8,
                split + 55,
                split + 56,
                split + 64,
                300,
            ] {
                let total = total.min(300);
                let (head, rest) = text[..total].split_at(split.min(total));
                assert_eq!(
                    Prefix::new(head).hash_u64(rest),
                    sha256_u64(&text[..total]),
                    "split {split}, total {total}"
                );
            }
        }
    }
}
