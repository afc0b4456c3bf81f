//! The "ruleset updated" notification for the host, on a watch channel.

use std::sync::Arc;

use flagcore::{InstallListener, RulesetUpdate};
use tokio::sync::watch;

/// Publishes every ruleset a [`flagcore::Store`] installs (from any source: the Statsig
/// poller, a file, a data store, a bootstrap) on a [`tokio::sync::watch`] channel, with the
/// time of the ruleset it replaced and of the new one. Give it to the store as its
/// [`flagcore::Options::install_listener`]; each receiver sees the latest update.
///
/// ```
/// use std::sync::Arc;
/// use flagcore::{Options, Store};
/// use flagcore_sync::RulesetUpdates;
///
/// let updates = RulesetUpdates::new();
/// let mut changed = updates.subscribe();
/// let store = Arc::new(Store::with_options(Options {
///     install_listener: Some(updates.clone()),
///     ..Options::default()
/// }));
/// store.load_json(br#"{"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
///     "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 7}"#)?;
/// assert!(changed.has_changed().unwrap());
/// let update = changed.borrow_and_update().expect("an update");
/// assert_eq!((update.previous_time, update.time), (None, 7));
/// // In async code: `while changed.changed().await.is_ok() { ... }`.
/// # Ok::<(), flagcore::LoadError>(())
/// ```
#[derive(Debug)]
pub struct RulesetUpdates {
    sender: watch::Sender<Option<RulesetUpdate>>,
}

impl RulesetUpdates {
    /// A listener with no update yet.
    pub fn new() -> Arc<RulesetUpdates> {
        Arc::new(RulesetUpdates {
            sender: watch::Sender::new(None),
        })
    }

    /// A receiver of the updates (`None` until the first install).
    pub fn subscribe(&self) -> watch::Receiver<Option<RulesetUpdate>> {
        self.sender.subscribe()
    }

    /// The latest update.
    pub fn latest(&self) -> Option<RulesetUpdate> {
        *self.sender.borrow()
    }
}

impl InstallListener for RulesetUpdates {
    fn installed(&self, update: RulesetUpdate) {
        self.sender.send_replace(Some(update));
    }
}
