//! The store's state cell: an [`ArcSwap`] of the current [`View`] plus a generation counter,
//! and a per-thread cache that makes a snapshot one atomic load of that counter.
//!
//! # How a snapshot is taken
//!
//! Every write ([`StateCell::rcu`], [`StateCell::store`]) swaps the state, then increments
//! the cell's generation. Each thread caches one `(cell id, generation, state)` entry; a
//! snapshot loads the generation (`Acquire`, a plain load on x86) and, when it matches the
//! entry for this cell, clones the entry's thread-local `Rc` (no shared reference count,
//! no fence). Otherwise it loads the state from the `ArcSwap` (`load_full`) and replaces
//! the entry. The generation is loaded *before* the state, so an entry is never older than
//! its generation says: a stale entry only costs one extra reload, never a stale answer.
//!
//! # Guarantees
//!
//! * A reader never blocks: the fast path is a load and a thread-local borrow; the slow
//!   path is `ArcSwap::load_full`, which is lock-free.
//! * A write is seen by the next snapshot taken after the write returns (the generation is
//!   incremented before `rcu`/`store` return, and every snapshot checks it).
//! * Retention: a state replaced by a write is freed once every [`Snapshot`] and
//!   `OwnedSnapshot` of it is dropped and every thread that cached it has taken a snapshot
//!   again (of any store: the cache has one entry per thread, and a thread that sees a newer
//!   generation drops its old entry then) or exited. So an idle thread pins at most one
//!   state, of one store, whatever the number of writes; dropping a store clears the
//!   dropping thread's entry at once.
//!
//! [`Snapshot`]: super::Snapshot

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::View;

/// A state as a snapshot holds it: a thread-local count around the shared `Arc`.
pub(crate) type Held = Rc<Arc<View>>;

/// Ids of cells, so that one thread's cache serves any number of stores (0: no entry).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's cached state.
struct Entry {
    /// The id of the cell it came from (0: empty).
    cell: u64,
    /// The cell's generation when it was loaded.
    generation: u64,
    state: Option<Held>,
}

thread_local! {
    static CACHE: RefCell<Entry> = const {
        RefCell::new(Entry { cell: 0, generation: 0, state: None })
    };
}

/// The current state of a store, swapped atomically, with a generation counter that
/// tells the per-thread caches when it changed. Its write methods mirror [`ArcSwap`]'s, so
/// every write, wherever it is added, bumps the generation.
pub(crate) struct StateCell {
    current: ArcSwap<View>,
    generation: AtomicU64,
    id: u64,
}

impl StateCell {
    pub(crate) fn new(view: View) -> StateCell {
        StateCell {
            current: ArcSwap::from_pointee(view),
            generation: AtomicU64::new(0),
            // Wraps after 2^64 stores: never in practice.
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The current state, through arc-swap's guard (for the store's own rare reads).
    pub(crate) fn load(&self) -> Guard<Arc<View>> {
        self.current.load()
    }

    /// The current state as an owned `Arc`.
    pub(crate) fn load_full(&self) -> Arc<View> {
        self.current.load_full()
    }

    /// [`ArcSwap::rcu`]: replaces the state with `f(current)`, retrying if writers race;
    /// returns the previous state. Bumps the generation before returning.
    pub(crate) fn rcu<R, F>(&self, f: F) -> Arc<View>
    where
        F: FnMut(&Arc<View>) -> R,
        R: Into<Arc<View>>,
    {
        let previous = self.current.rcu(f);
        self.generation.fetch_add(1, Ordering::Release);
        previous
    }

    /// [`ArcSwap::store`]: replaces the state. Bumps the generation before returning.
    #[allow(dead_code)] // Mirrors `ArcSwap` for writers that do not read the old state.
    pub(crate) fn store(&self, state: Arc<View>) {
        self.current.store(state);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The current state for a snapshot: the thread's cached entry when it is current,
    /// else a fresh load that replaces the entry.
    #[inline]
    pub(crate) fn held(&self) -> Held {
        let generation = self.generation.load(Ordering::Acquire);
        let hit = CACHE.try_with(|c| match c.try_borrow() {
            Ok(e) if e.cell == self.id && e.generation == generation => e.state.clone(),
            _ => None,
        });
        match hit {
            Ok(Some(held)) => held,
            _ => self.refresh(generation),
        }
    }

    /// Runs `f` on the current state, as [`StateCell::held`] would give it, without
    /// counting a reference when the thread's entry is current (`f` runs inside a shared
    /// borrow of the entry: a snapshot taken inside `f` still works, and a refresh inside
    /// it goes uncached).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&View) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let mut f = Some(f);
        let hit = CACHE.try_with(|c| {
            let e = c.try_borrow().ok()?;
            if e.cell != self.id || e.generation != generation {
                return None;
            }
            let state = e.state.as_deref()?;
            f.take().map(|f| f(state))
        });
        match (hit, f) {
            (Ok(Some(r)), _) => r,
            (_, Some(f)) => f(&self.refresh(generation)),
            // `f` is taken only on the path that returns `Some`.
            (_, None) => unreachable!("the cached path returned"),
        }
    }

    /// Loads the state and makes it the thread's entry (reusing the entry's allocation when
    /// no snapshot holds it, so a thread that alternates between stores allocates nothing).
    /// The replaced state is dropped after the entry is released: its destructor may take
    /// a snapshot.
    #[cold]
    #[inline(never)]
    fn refresh(&self, generation: u64) -> Held {
        let mut fresh = Some(self.current.load_full());
        let mut old_state: Option<Arc<View>> = None;
        let mut old_held: Option<Held> = None;
        let cached = CACHE.try_with(|c| {
            // Busy only while a destructor run from here takes a snapshot: go uncached.
            let mut e = c.try_borrow_mut().ok()?;
            let state = fresh.take()?;
            let held = match e.state.take() {
                Some(mut held) => match Rc::get_mut(&mut held) {
                    Some(slot) => {
                        old_state = Some(std::mem::replace(slot, state));
                        held
                    }
                    None => {
                        old_held = Some(held);
                        Rc::new(state)
                    }
                },
                None => Rc::new(state),
            };
            e.cell = self.id;
            e.generation = generation;
            e.state = Some(held.clone());
            Some(held)
        });
        drop((old_state, old_held));
        match (cached, fresh) {
            (Ok(Some(held)), _) => held,
            (_, Some(state)) => Rc::new(state),
            // `fresh` is taken only on the path that returns `Some`.
            (_, None) => Rc::new(self.current.load_full()),
        }
    }
}

impl Drop for StateCell {
    /// Releases this thread's entry for the cell at once (other threads release theirs at
    /// their next snapshot or exit).
    fn drop(&mut self) {
        let old = CACHE.try_with(|c| {
            let mut e = c.try_borrow_mut().ok()?;
            if e.cell != self.id {
                return None;
            }
            e.cell = 0;
            e.state.take()
        });
        drop(old);
    }
}
