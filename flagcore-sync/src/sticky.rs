//! Sticky assignments with storage: where a user's persisted values live, and the
//! load–evaluate–save loop around the core's sticky evaluation
//! ([`flagcore::sticky`], Statsig's `PersistentStorage`).
//!
//! ```text
//!  PersistentStorage::load(key) ──► values ──► View::experiment_sticky / layer_sticky
//!  (MemoryStorage, FileStorage,                        │ result (Persisted when stored won)
//!   or your own: Redis, a DB)  ◄── save / delete ◄─────┘ Change
//! ```
//!
//! [`experiment`] and [`layer`] do the whole loop: the spec's unit type gives the
//! [`storage_key`], the storage loads the user's values
//! (none stored: an empty map, so that a first assignment is saved), the core evaluates,
//! and the change is written back. The storage is blocking, as the official interface is:
//! [`FileStorage`] reads and writes a file per call, so on an async runtime call these
//! from a blocking context (`spawn_blocking`) or use [`MemoryStorage`].
//!
//! ```
//! use flagcore::sticky::StickyOptions;
//! use flagcore::{Scratch, Store, User};
//! use flagcore_sync::sticky::{self, MemoryStorage, PersistentStorage};
//!
//! let store = Store::new();
//! store.load_json(br#"{"feature_gates": {}, "layer_configs": {}, "experiment_to_layer": {},
//!   "condition_map": {"all": {"type": "public", "idType": "userID"}},
//!   "dynamic_configs": {"exp": {"type": "dynamic_config", "entity": "experiment",
//!     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID", "isActive": true,
//!     "rules": [{"id": "exp-Test", "name": "Test", "passPercentage": 100, "conditions": ["all"],
//!       "returnValue": {"color": "blue"}, "idType": "userID", "groupName": "Test",
//!       "isExperimentGroup": true}]}},
//!   "has_updates": true, "time": 1}"#)?;
//! let storage = MemoryStorage::new();
//! let user = User::with_user_id("u1");
//! let (mut scratch, mut values) = (Scratch::new(), Default::default());
//!
//! let snapshot = store.snapshot();
//! let exp = sticky::experiment(&storage, &snapshot, &mut scratch, &mut values, &user, "exp",
//!     StickyOptions::default())?;
//! assert_eq!(exp.group_name(), Some("Test"));
//! assert!(storage.load("u1:userID")?.unwrap().contains_key("exp")); // saved
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use flagcore::sticky::{storage_key, Change, StickyOptions, StickyValues, UserPersistedValues};
use flagcore::{Evaluation, Kind, Layer, Scratch, User, View};

use crate::SyncError;

/// Where users' sticky assignments are kept (the official core's `PersistentStorage`):
/// per [`storage_key`], a map of experiment or layer name → [`StickyValues`].
///
/// Implementations must be safe to call from many threads at once; `save` and `delete`
/// change one name of a key and keep the others.
pub trait PersistentStorage: Send + Sync {
    /// The values stored under `key`; `None` when there are none.
    fn load(&self, key: &str) -> Result<Option<UserPersistedValues>, SyncError>;
    /// Stores `values` as the assignment of `config` under `key`.
    fn save(&self, key: &str, config: &str, values: &StickyValues) -> Result<(), SyncError>;
    /// Removes the assignment of `config` under `key`, if there is one.
    fn delete(&self, key: &str, config: &str) -> Result<(), SyncError>;

    /// Makes the change a sticky evaluation returned.
    fn apply(&self, change: &Change) -> Result<(), SyncError> {
        match change {
            Change::None => Ok(()),
            Change::Save {
                key,
                config,
                values,
            } => self.save(key, config, values),
            Change::Delete { key, config } => self.delete(key, config),
        }
    }
}

/// A [`PersistentStorage`] in memory (one process; lost at exit): for tests, and for
/// services that keep assignments elsewhere and preload them.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    values: Mutex<HashMap<String, UserPersistedValues>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// A copy of everything stored, by key.
    pub fn contents(&self) -> HashMap<String, UserPersistedValues> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserPersistedValues>> {
        // A panic while holding the lock leaves a consistent map (each call is one edit).
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PersistentStorage for MemoryStorage {
    fn load(&self, key: &str) -> Result<Option<UserPersistedValues>, SyncError> {
        Ok(self.lock().get(key).cloned())
    }

    fn save(&self, key: &str, config: &str, values: &StickyValues) -> Result<(), SyncError> {
        self.lock()
            .entry(key.to_owned())
            .or_default()
            .insert(config.to_owned(), values.clone());
        Ok(())
    }

    fn delete(&self, key: &str, config: &str) -> Result<(), SyncError> {
        if let Some(values) = self.lock().get_mut(key) {
            values.remove(config);
        }
        Ok(())
    }
}

/// A [`PersistentStorage`] in a directory: one JSON file per key, holding the key's
/// values in the official JSON shape (`{"exp": {"value": true, "json_value": …}, …}`).
///
/// Writes are atomic (a temporary file beside it, flushed and renamed over it), so a
/// reader or a crash sees the old file or the new one. Edits from this process are
/// serialised; several processes sharing the directory may lose one another's concurrent
/// edits of the same key (use a database for that). A key whose last name is deleted
/// loses its file. File names are the key with every byte outside `A-Z a-z 0-9 - _`
/// written `%XX` (`u1:userID` → `u1%3AuserID.json`), or, for keys too long for a file
/// name, `sha256-<hex>.json`.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    edits: Mutex<()>,
}

impl FileStorage {
    /// A storage in `dir`, created (with its parents) if missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileStorage, SyncError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| SyncError::StickyFile {
            path: dir.clone(),
            source,
        })?;
        Ok(FileStorage {
            dir,
            edits: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `key`.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(file_name(key))
    }

    fn read(&self, path: &Path) -> Result<Option<UserPersistedValues>, SyncError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SyncError::StickyFile {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| SyncError::StickyValues {
                path: path.to_owned(),
                source,
            })
    }

    /// Reads the key's values, edits them and writes them back (or removes the file when
    /// none are left).
    fn edit(&self, key: &str, f: impl FnOnce(&mut UserPersistedValues)) -> Result<(), SyncError> {
        let _serial = self.edits.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.path_of(key);
        let mut values = self.read(&path)?.unwrap_or_default();
        f(&mut values);
        let io = |source| SyncError::StickyFile {
            path: path.clone(),
            source,
        };
        if values.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        let bytes = serde_json::to_vec(&values).map_err(|source| SyncError::StickyValues {
            path: path.clone(),
            source,
        })?;
        crate::last_good::save_blocking(&path, &bytes).map_err(io)
    }
}

/// Longest encoded key used as a file name (most file systems allow 255 bytes).
const MAX_NAME: usize = 200;

fn file_name(key: &str) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let mut name = String::with_capacity(key.len() + 5);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            let _ = write!(name, "%{b:02X}");
        }
    }
    if name.len() > MAX_NAME {
        name = String::from("sha256-");
        for b in sha2::Sha256::digest(key.as_bytes()) {
            let _ = write!(name, "{b:02x}");
        }
    }
    name.push_str(".json");
    name
}

impl PersistentStorage for FileStorage {
    fn load(&self, key: &str) -> Result<Option<UserPersistedValues>, SyncError> {
        self.read(&self.path_of(key))
    }

    fn save(&self, key: &str, config: &str, values: &StickyValues) -> Result<(), SyncError> {
        self.edit(key, |v| {
            v.insert(config.to_owned(), values.clone());
        })
    }

    fn delete(&self, key: &str, config: &str) -> Result<(), SyncError> {
        if !self.path_of(key).exists() {
            return Ok(());
        }
        self.edit(key, |v| {
            v.remove(config);
        })
    }
}

/// Loads the values for the spec's key into `slot` (empty when none are stored); `None`
/// when there is no key (unknown spec, or the user has no unit id of its type).
fn load_into<'a>(
    storage: &dyn PersistentStorage,
    view: &View,
    user: &User<'_>,
    kind: Kind,
    name: &str,
    slot: &'a mut UserPersistedValues,
) -> Result<Option<&'a UserPersistedValues>, SyncError> {
    let Some(key) = view
        .id_type(kind, name)
        .and_then(|id_type| storage_key(user, id_type))
    else {
        return Ok(None);
    };
    *slot = storage.load(&key)?.unwrap_or_default();
    Ok(Some(slot))
}

/// The official `get_experiment_with_options` with a persistent storage: loads the user's
/// values from `storage` into `slot` (reused between calls), evaluates the experiment with
/// them ([`View::experiment_sticky`]; `options.persisted` is replaced by them), and saves
/// or deletes what the evaluation says. The result borrows `view`, `scratch` and `slot`.
///
/// A load error gives no result; a save or delete error is returned in place of the
/// result (evaluate again to retry).
pub fn experiment<'a>(
    storage: &dyn PersistentStorage,
    view: &'a View,
    scratch: &'a mut Scratch,
    slot: &'a mut UserPersistedValues,
    user: &User<'_>,
    name: &'a str,
    options: StickyOptions<'_>,
) -> Result<Evaluation<'a>, SyncError> {
    let persisted = load_into(storage, view, user, Kind::Experiment, name, slot)?;
    let options = with_persisted(options, persisted);
    let (result, change) = view.experiment_sticky(scratch, user, name, options);
    storage.apply(&change)?;
    Ok(result)
}

/// The official `get_layer_with_options` with a persistent storage: [`experiment`] for a
/// layer ([`View::layer_sticky`]); the returned [`Layer`]'s reads log exposures as
/// `options.exposures` says.
pub fn layer<'a>(
    storage: &dyn PersistentStorage,
    view: &'a View,
    slot: &'a mut UserPersistedValues,
    user: &'a User<'a>,
    name: &'a str,
    options: StickyOptions<'_>,
) -> Result<Layer<'a>, SyncError> {
    let persisted = load_into(storage, view, user, Kind::Layer, name, slot)?;
    let options = with_persisted(options, persisted);
    let (result, change) = view.layer_sticky(user, name, options);
    storage.apply(&change)?;
    Ok(result)
}

fn with_persisted<'p>(
    options: StickyOptions<'_>,
    persisted: Option<&'p UserPersistedValues>,
) -> StickyOptions<'p> {
    StickyOptions {
        persisted,
        enforce_overrides: options.enforce_overrides,
        enforce_targeting: options.enforce_targeting,
        exposures: options.exposures,
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name("u1:userID"), "u1%3AuserID.json");
        assert_eq!(file_name("../x:y"), "%2E%2E%2Fx%3Ay.json");
        assert_ne!(file_name("a:b"), file_name("a%3Ab"));
        let long = file_name(&"k".repeat(500));
        assert!(long.starts_with("sha256-") && long.len() < 100, "{long}");
    }
}
