//! What is remembered for the length of one client initialize response: nested gate
//! results, and the user agent parsed.
//!
//! A response evaluates every entity for one user, and most experiments check the same
//! holdout gates (`global_holdout` in 67 rules of the eval_proj fixture): each nested gate
//! is evaluated once per response and its result replayed after, with the secondary
//! exposures it left. Only what is the same wherever it happens is remembered: a gate
//! checked directly by an entity's own conditions (or by those of the experiment a layer
//! delegates to), without config mapping or local overrides, outside `experiment_group`
//! conditions. A replay counts the evaluations it stands for against the per-call limit,
//! and evaluates for real when the limit would be passed, so an evaluation that would fail
//! still fails where it did.
//!
//! The user's agent is parsed once per response too (the fixtures' `os_name`,
//! `browser_version`, … conditions would parse it once each), keyed by its text.

use core::cell::{Cell, RefCell};
use core::ops::Range;

use super::record::{RawExposure, Record};
use crate::ua::Field;
use crate::value::StackStr;

/// What a nested gate's evaluation gave (remembered in the response `generation`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Remembered {
    generation: u32,
    value: bool,
    rule_id: Option<u32>,
    unsupported: bool,
    analytical: bool,
    sampling_rate: Option<u64>,
    /// Its secondary exposures: a range of [`ResponseMemo::exposures`].
    exposures: (u32, u32),
    /// Spec evaluations it took.
    pub(crate) evaluations: u32,
    pub(crate) id_list_used: bool,
    pub(crate) country_not_loaded: bool,
}

/// The remembered nested gates of one response: two slots per gate (the delegation depth
/// the gate was checked at, 0 or 1).
#[derive(Default)]
pub(crate) struct ResponseMemo {
    slots: RefCell<Vec<Remembered>>,
    exposures: RefCell<Vec<RawExposure>>,
    ua: RefCell<ParsedUa>,
    /// Bucketing hashes by salt prefix (its interned id): the id type's name (where the
    /// ruleset keeps it, and its length) and the hash, with the response generation.
    hashes: RefCell<Vec<(u32, usize, usize, u64)>>,
    /// The response this memo is for (entries of other generations are stale; 0 is none).
    generation: Cell<u32>,
}

/// A user agent's four fields as conditions read them, for the agent `ua`.
#[derive(Default)]
struct ParsedUa {
    set: bool,
    ua: String,
    /// The fields one after another, in [`Field::ALL`] order; `spans` says where each is.
    text: String,
    spans: [Range<usize>; 4],
}

impl ParsedUa {
    fn fill(&mut self, ua: &str) {
        let p = crate::ua::parse(ua);
        self.text.clear();
        for (field, span) in Field::ALL.into_iter().zip(&mut self.spans) {
            let mut buf = StackStr::<128>::new();
            let start = self.text.len();
            self.text.push_str(p.field(field, &mut buf));
            *span = start..self.text.len();
        }
        self.ua.clear();
        self.ua.push_str(ua);
        self.set = true;
    }

    fn get(&self, field: Field) -> &str {
        let i = Field::ALL.iter().position(|f| *f == field);
        let span = i.and_then(|i| self.spans.get(i)).cloned();
        span.and_then(|s| self.text.get(s)).unwrap_or_default()
    }
}

thread_local! {
    /// Each thread's memo storage, reused from one response to the next.
    static MEMO: Cell<ResponseMemo> = Cell::new(ResponseMemo::default());
}

impl ResponseMemo {
    /// Runs `f` with the thread's memo, emptied and sized for `gates` gates: once grown, a
    /// response allocates nothing here.
    pub(crate) fn with_thread_memo<R>(
        gates: usize,
        prefixes: usize,
        f: impl FnOnce(&ResponseMemo) -> R,
    ) -> R {
        let memo = MEMO.try_with(Cell::take).unwrap_or_default();
        {
            let mut generation = memo.generation.get().wrapping_add(1);
            let mut slots = memo.slots.borrow_mut();
            let mut hashes = memo.hashes.borrow_mut();
            if generation == 0 {
                // Wrapped around: forget everything.
                slots.clear();
                hashes.clear();
                generation = 1;
            }
            memo.generation.set(generation);
            if slots.len() < gates * 2 {
                slots.resize(gates * 2, Remembered::default());
            }
            if hashes.len() < prefixes {
                hashes.resize(prefixes, (0, 0, 0, 0));
            }
            memo.exposures.borrow_mut().clear();
            memo.ua.borrow_mut().set = false;
        }
        let r = f(&memo);
        let _ = MEMO.try_with(|c| c.set(memo));
        r
    }

    /// `field` of the user agent `ua` (parsed on the first call for it), given to `f`.
    pub(crate) fn ua_field<R>(&self, ua: &str, field: Field, f: impl FnOnce(&str) -> R) -> R {
        let mut parsed = self.ua.borrow_mut();
        if !parsed.set || parsed.ua != ua {
            parsed.fill(ua);
        }
        f(parsed.get(field))
    }

    /// The bucketing hash of the salt prefix `prefix` (an interned id) for the unit of id
    /// type `id_type`, computed by `hash` the first time in the response.
    pub(crate) fn unit_hash(&self, prefix: u32, id_type: &str, hash: impl FnOnce() -> u64) -> u64 {
        let generation = self.generation.get();
        let key = (id_type.as_ptr() as usize, id_type.len());
        if let Some(&(g, ptr, len, h)) = self.hashes.borrow().get(prefix as usize) {
            if g == generation && (ptr, len) == key {
                return h;
            }
        }
        let h = hash();
        if let Some(e) = self.hashes.borrow_mut().get_mut(prefix as usize) {
            *e = (generation, key.0, key.1, h);
        }
        h
    }

    /// The slot of gate `index` checked at `delegation_depth`, when there is one.
    pub(crate) fn slot(index: u32, delegation_depth: u32) -> Option<usize> {
        (delegation_depth <= 1).then(|| index as usize * 2 + delegation_depth as usize)
    }

    /// The remembered result in `slot`, if any.
    pub(crate) fn get(&self, slot: usize) -> Option<Remembered> {
        let generation = self.generation.get();
        self.slots
            .borrow()
            .get(slot)
            .copied()
            .filter(|r| r.generation == generation)
    }

    /// Replays `r` into `child`, appending its secondary exposures to `sec`.
    pub(crate) fn replay<'r>(
        &self,
        r: &Remembered,
        child: &mut Record<'r>,
        sec: &mut Vec<RawExposure>,
    ) {
        child.value = r.value;
        child.rule_id = r.rule_id;
        child.unsupported = r.unsupported;
        child.has_seen_analytical_gates = r.analytical;
        child.sampling_rate = r.sampling_rate;
        let (start, end) = r.exposures;
        if let Some(e) = self.exposures.borrow().get(start as usize..end as usize) {
            sec.extend_from_slice(e);
        }
    }

    /// Remembers in `slot` what `child` gave, with the secondary exposures `added`.
    pub(crate) fn remember(
        &self,
        slot: usize,
        child: &Record<'_>,
        added: &[RawExposure],
        evaluations: u32,
        flags: (bool, bool),
    ) {
        let mut exposures = self.exposures.borrow_mut();
        let start = exposures.len() as u32;
        exposures.extend_from_slice(added);
        let end = exposures.len() as u32;
        if let Some(s) = self.slots.borrow_mut().get_mut(slot) {
            *s = Remembered {
                generation: self.generation.get(),
                value: child.value,
                rule_id: child.rule_id,
                unsupported: child.unsupported,
                analytical: child.has_seen_analytical_gates,
                sampling_rate: child.sampling_rate,
                exposures: (start, end),
                evaluations,
                id_list_used: flags.0,
                country_not_loaded: flags.1,
            };
        }
    }
}
