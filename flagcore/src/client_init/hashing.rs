//! How a client initialize response names things: Statsig's djb2, SHA-256 in base64, or the
//! name itself; written straight into the output buffer.

use sha2::{Digest, Sha256};

use crate::load::{NameText, Ruleset};

/// How names (of gates, configs, layers, parameter stores, exposure gates) are written in a
/// client initialize response. Client SDKs hash the names they look up the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// Statsig's 32-bit djb2 of the name's characters, in decimal (the default).
    #[default]
    Djb2,
    /// SHA-256 of the name, in standard base64 (44 characters).
    Sha256,
    /// The name itself.
    None,
}

impl HashAlgorithm {
    /// The name Statsig gives it (`djb2`, `sha256`, `none`), as in the response's
    /// `hash_used`.
    pub fn label(self) -> &'static str {
        match self {
            HashAlgorithm::Djb2 => "djb2",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::None => "none",
        }
    }

    /// Parses the spellings Statsig's core accepts (`djb2`, `DJB2`, `Djb2`, and likewise for
    /// `sha256` and `none`).
    pub fn parse(s: &str) -> Option<HashAlgorithm> {
        match s {
            "djb2" | "DJB2" | "Djb2" => Some(HashAlgorithm::Djb2),
            "sha256" | "SHA256" | "Sha256" => Some(HashAlgorithm::Sha256),
            "none" | "NONE" | "None" => Some(HashAlgorithm::None),
            _ => None,
        }
    }
}

/// Statsig's djb2: over the Unicode scalar values of `s`, wrapping, kept to 32 bits.
pub(crate) fn djb2(s: &str) -> u32 {
    djb2_chars(0, s.chars())
}

/// djb2 continued from `hash` over `chars` (for hashing concatenations without building them).
pub(crate) fn djb2_chars(hash: u32, chars: impl Iterator<Item = char>) -> u32 {
    // Statsig computes in i64 and masks at the end; modulo 2^32 that is u32 arithmetic.
    chars.fold(hash, |h, c| {
        (h << 5).wrapping_sub(h).wrapping_add(u32::from(c))
    })
}

/// Appends the decimal text of `n`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // in bounds: a u64 has at most 20 decimal digits, so `i` stays in 0..20.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends standard base64 (with padding) of `bytes`.
pub(crate) fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        // in bounds: each index is masked to 0..64.
        out.extend_from_slice(&[
            BASE64[(n >> 18) as usize & 63],
            BASE64[(n >> 12) as usize & 63],
            BASE64[(n >> 6) as usize & 63],
            BASE64[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                BASE64[(n >> 18) as usize & 63],
                BASE64[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                BASE64[(n >> 18) as usize & 63],
                BASE64[(n >> 12) as usize & 63],
                BASE64[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Cannot fail: writing to a Vec does not fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether `s` holds a byte JSON escapes (a control character, `"` or `\\`), eight bytes
/// at a time.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero exactly when some byte of `x` is below `n` (for n <= 128).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(c) else {
            return true;
        };
        let x = u64::from_le_bytes(bytes);
        if below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// How one response writes names: the algorithm, and the ruleset's names already hashed
/// with it (djb2 and SHA-256 both cost more than looking the name up).
#[derive(Clone, Copy)]
pub(crate) struct Names<'r> {
    alg: HashAlgorithm,
    known: Option<&'r NameText>,
}

impl<'r> Names<'r> {
    pub(crate) fn new(alg: HashAlgorithm, rs: &'r Ruleset) -> Names<'r> {
        // The name itself is written as it comes: nothing to keep.
        let slot = match alg {
            HashAlgorithm::Sha256 => Some(0),
            HashAlgorithm::Djb2 => Some(1),
            HashAlgorithm::None => None,
        };
        let known =
            slot.and_then(|slot| rs.hashed_names(slot, |out, name| push_name(out, alg, name)));
        Names { alg, known }
    }

    /// Appends `name`, the ruleset's interned string `sid`, hashed, as a JSON string.
    pub(crate) fn push_sid(self, out: &mut Vec<u8>, sid: u32, name: &str) {
        match self.known.and_then(|k| k.get_sid(sid)) {
            Some(text) => out.extend_from_slice(text),
            None => push_name(out, self.alg, name),
        }
    }

    /// Appends `name` hashed, as a JSON string.
    pub(crate) fn push(self, out: &mut Vec<u8>, name: &str) {
        match self.known.and_then(|k| k.get(name)) {
            Some(text) => out.extend_from_slice(text),
            None => push_name(out, self.alg, name),
        }
    }
}

/// Appends `name` hashed with `alg`, as a JSON string.
pub(crate) fn push_name(out: &mut Vec<u8>, alg: HashAlgorithm, name: &str) {
    match alg {
        HashAlgorithm::Djb2 => {
            out.push(b'"');
            push_u64(out, u64::from(djb2(name)));
            out.push(b'"');
        }
        HashAlgorithm::Sha256 => {
            out.push(b'"');
            push_base64(out, &Sha256::digest(name.as_bytes()));
            out.push(b'"');
        }
        HashAlgorithm::None => push_str(out, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(alg: HashAlgorithm, s: &str) -> String {
        let mut out = Vec::new();
        push_name(&mut out, alg, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn names_hash_as_statsig_hashes_them() {
        // From the official core's responses (fixture demo_proj).
        assert_eq!(name(HashAlgorithm::Djb2, "partial_gate"), "\"610600137\"");
        assert_eq!(djb2(""), 0);
        // Non-ASCII: djb2 runs over characters, not bytes.
        assert_eq!(djb2("é"), 0xe9);
        assert_eq!(
            name(HashAlgorithm::Sha256, "abc"),
            "\"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\""
        );
        assert_eq!(name(HashAlgorithm::None, "a\"b"), r#""a\"b""#);
    }

    #[test]
    fn escapes_are_found_at_every_position() {
        let escaped = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let plain = "aZ~é09".repeat(4);
        for len in 0..24 {
            let plain = &plain.as_bytes()[..len];
            assert!(!needs_escape(plain), "{plain:?}");
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = plain.to_vec();
                    s[at] = b;
                    assert_eq!(needs_escape(&s), escaped(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn base64_pads_like_the_standard() {
        for (input, want) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
        ] {
            let mut out = Vec::new();
            push_base64(&mut out, input);
            assert_eq!(out, want.as_bytes());
        }
    }

    #[test]
    fn integers_print_in_decimal() {
        for n in [0, 7, 10, 4_294_967_295, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
