//! A small open-addressing string index: maps strings to their position in a list.
//!
//! Built once at load time; lookups hash the probe once with xxh3 and never allocate.
//!
//! Invariant the callers rely on: `get` returns only indexes below the `len` passed to
//! `build` (and below `u32::MAX`), so a `key` closure that indexes the list the index was
//! built over is in bounds (call sites say `// in bounds: StrIndex over …`).

use xxhash_rust::xxh3::xxh3_64;

const EMPTY: u32 = u32::MAX;

/// Maps each distinct string of a list to the index of its **last** occurrence.
#[derive(Debug, Default)]
pub(crate) struct StrIndex {
    slots: Box<[(u64, u32)]>,
    mask: usize,
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
        for i in 0..len {
            let k = key(i);
            let h = xxh3_64(k.as_bytes());
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
        StrIndex { slots, mask }
    }

    /// The index of `probe`, checking candidates with `key`.
    #[inline]
    pub(crate) fn get<'k>(&self, probe: &str, key: impl Fn(usize) -> &'k str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let h = xxh3_64(probe.as_bytes());
        let mut pos = (h as usize) & self.mask;
        loop {
            let (sh, si) = *self.slots.get(pos)?;
            if si == EMPTY {
                return None;
            }
            if sh == h && key(si as usize) == probe {
                return Some(si as usize);
            }
            pos = (pos + 1) & self.mask;
        }
    }
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
        assert_eq!(empty.get("a", |i| items[i]), None);
    }
}
