//! A small open-addressing string index: maps strings to their position in a list.
//!
//! Built once at load time; lookups hash the probe once with xxh3 and never allocate.
//! The hash is seeded per index from the standard library's random keys, so a payload
//! cannot be crafted to make names collide (and loading quadratic).
//!
//! Invariant the callers rely on: `get` returns only indexes below the `len` passed to
//! `build` (and below `u32::MAX`), so a `key` closure that indexes the list the index was
//! built over is in bounds (call sites say `// in bounds: StrIndex over …`).

use std::hash::BuildHasher;

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// A random seed, drawn from the standard library's per-process random keys.
pub(crate) fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

/// A `BuildHasher` for the loader's string maps: seeded xxh3, several times faster than
/// SipHash on short names, and as collision-resistant for them as a random seed makes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededXxh3(u64);

impl SeededXxh3 {
    pub(crate) fn new() -> SeededXxh3 {
        SeededXxh3(random_seed())
    }
}

impl BuildHasher for SeededXxh3 {
    type Hasher = XxHasher;
    fn build_hasher(&self) -> XxHasher {
        XxHasher(self.0)
    }
}

/// The hasher of [`SeededXxh3`]: each write folds its bytes into the state.
#[derive(Debug)]
pub(crate) struct XxHasher(u64);

impl std::hash::Hasher for XxHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }
    fn write_u8(&mut self, i: u8) {
        // `str` hashes end with a 0xff marker byte: mixed in without hashing a slice.
        self.0 = (self.0 ^ u64::from(i)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

const EMPTY: u32 = u32::MAX;

/// Maps each distinct string of a list to the index of its **last** occurrence.
#[derive(Debug, Default)]
pub(crate) struct StrIndex {
    slots: Box<[(u64, u32)]>,
    mask: usize,
    seed: u64,
}

impl StrIndex {
    /// Indexes `items` (the string of item `i` is `key(i)`); a later duplicate replaces an
    /// earlier one. Only the first `u32::MAX - 1` items are indexed (the `Limits` on a ruleset
    /// keep every list far shorter).
    pub(crate) fn build<'k>(len: usize, key: impl Fn(usize) -> &'k str) -> StrIndex {
        let len = len.min(EMPTY as usize);
        if len == 0 {
            return StrIndex::default();
        }
        // No overflow: `len` < 2^32.
        let cap = (len * 2).next_power_of_two().max(8);
        let mut slots = vec![(0u64, EMPTY); cap].into_boxed_slice();
        let mask = cap - 1;
        let seed = random_seed();
        for i in 0..len {
            let k = key(i);
            let h = xxh3_64_with_seed(k.as_bytes(), seed);
            let mut pos = (h as usize) & mask;
            // Lossless: `i` < `len` <= `u32::MAX`, and never `EMPTY`.
            let id = i as u32;
            loop {
                // in bounds: `pos` is masked by `cap - 1`, `cap` = `slots.len()`, a power of two.
                let (sh, si) = slots[pos];
                if si == EMPTY {
                    slots[pos] = (h, id);
                    break;
                }
                if sh == h && key(si as usize) == k {
                    slots[pos] = (h, id);
                    break;
                }
                pos = (pos + 1) & mask;
            }
        }
        StrIndex { slots, mask, seed }
    }

    /// The index of `probe`, checking candidates with `key`.
    // Always inlined: a name lookup is most of a `check_gate`, and LLVM stops inlining it
    // there once the explain path (a second instantiation of the evaluator) also calls it.
    #[inline(always)]
    pub(crate) fn get<'k>(&self, probe: &str, key: impl Fn(usize) -> &'k str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let h = xxh3_64_with_seed(probe.as_bytes(), self.seed);
        let mut pos = (h as usize) & self.mask;
        loop {
            let (sh, si) = *self.slots.get(pos)?;
            if si == EMPTY {
                return None;
            }
            if sh == h && same(key(si as usize).as_bytes(), probe.as_bytes()) {
                return Some(si as usize);
            }
            pos = (pos + 1) & self.mask;
        }
    }
}

/// `a == b`, inline: names are short, and a call to `memcmp` costs more than comparing
/// them 8 bytes at a time (the last word overlaps the one before it).
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| s.get(at..).and_then(|t| t.first_chunk::<8>()).copied();
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_last_duplicate_and_misses_absent() {
        let items = ["a", "b", "a", "c"];
        let idx = StrIndex::build(items.len(), |i| items[i]);
        assert_eq!(idx.get("a", |i| items[i]), Some(2));
        assert_eq!(idx.get("b", |i| items[i]), Some(1));
        assert_eq!(idx.get("zz", |i| items[i]), None);
        let empty = StrIndex::build(0, |i| items[i]);
        for (a, b) in [
            ("", ""),
            ("abc", "abc"),
            ("abc", "abd"),
            ("exactly8", "exactly8"),
            ("exactly8", "exactlY8"),
            ("seventeen bytes!!", "seventeen bytes!!"),
            ("seventeen bytes!!", "seventeen bytes!?"),
            ("seventeen bytes!!", "Seventeen bytes!!"),
            ("a somewhat longer name_x", "a somewhat longer name_y"),
            ("short", "shorter"),
        ] {
            assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a:?} vs {b:?}");
        }
        assert_eq!(empty.get("a", |i| items[i]), None);
    }
}
