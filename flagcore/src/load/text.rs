//! The JSON text of every object a ruleset can return, written once per ruleset.
//!
//! A client initialize response writes the value of every gate, config, experiment and
//! layer for one user: on a large payload that is megabytes of JSON per call, almost all of
//! it the same text for every user. [`Ruleset::value_text`] serialises each return value
//! once (on the first call, so a service that never builds a response never pays for it),
//! and the response copies those bytes. Hashed names (djb2, SHA-256) are kept the same way.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use serde_json::{Map, Value as Json};

use super::{ReturnValue, Ruleset};
use crate::index::SeededXxh3;

/// The JSON text of each object return value of one ruleset, keyed by the object's address
/// (a ruleset never changes after loading, so its objects never move).
#[derive(Debug, Default)]
pub(crate) struct ValueText {
    ranges: HashMap<usize, Range<usize>, BuildHasherDefault<AddressHasher>>,
    bytes: Vec<u8>,
}

impl ValueText {
    fn of(rs: &Ruleset) -> ValueText {
        let mut text = ValueText::default();
        text.add(&rs.empty);
        let specs = [&rs.gates.list, &rs.configs.list, &rs.layers.list];
        for spec in specs.into_iter().flatten() {
            text.add_value(&spec.default_value);
            for rule in &spec.rules {
                text.add_value(&rule.return_value);
            }
        }
        if let Some(m) = &rs.mappings {
            for rule in &m.rules {
                text.add_value(&rule.return_value);
            }
        }
        text.bytes.shrink_to_fit();
        text
    }

    fn add_value(&mut self, v: &ReturnValue) {
        if let ReturnValue::Object(map) = v {
            self.add(map);
        }
    }

    fn add(&mut self, map: &Map<String, Json>) {
        let start = self.bytes.len();
        // Cannot fail: the keys are strings, and writing to a Vec does not fail.
        let _ = serde_json::to_writer(&mut self.bytes, map);
        self.ranges.insert(address(map), start..self.bytes.len());
    }

    /// The JSON text of `map`, when it is one of the ruleset's return values (`None` for
    /// any other object, such as a local override's value).
    pub(crate) fn get(&self, map: &Map<String, Json>) -> Option<&[u8]> {
        let range = self.ranges.get(&address(map))?;
        self.bytes.get(range.clone())
    }
}

fn address(map: &Map<String, Json>) -> usize {
    core::ptr::from_ref(map) as usize
}

/// Every name of a ruleset (gates, configs, experiments, layers, parameter stores) as one
/// costly name hashing writes it, keyed by the name.
#[derive(Debug)]
pub(crate) struct NameText {
    ranges: HashMap<Box<str>, Range<usize>, SeededXxh3>,
    /// The same ranges keyed by where the ruleset keeps each spec's and parameter store's
    /// name, with the name's length: a response writes entities by those, and an address
    /// costs less to hash than the characters. A live string at an address of the
    /// ruleset's, with the same length, is that very string.
    by_address: HashMap<usize, (usize, Range<usize>), BuildHasherDefault<AddressHasher>>,
    /// The same ranges by interned string id (empty: not a name).
    by_sid: Vec<Range<usize>>,
    bytes: Vec<u8>,
}

impl NameText {
    fn of(rs: &Ruleset, write: impl Fn(&mut Vec<u8>, &str)) -> NameText {
        let mut text = NameText {
            ranges: HashMap::with_hasher(SeededXxh3::new()),
            by_address: HashMap::default(),
            by_sid: Vec::with_capacity(rs.strs.len()),
            bytes: Vec::new(),
        };
        let specs = [&rs.gates.list, &rs.configs.list, &rs.layers.list];
        let names = specs.into_iter().flatten().map(|s| &*s.name);
        let stores = rs.client.param_stores.iter().map(|s| &*s.name);
        for name in names.chain(stores) {
            let start = text.bytes.len();
            write(&mut text.bytes, name);
            let range = start..text.bytes.len();
            text.by_address
                .insert(str_address(name), (name.len(), range.clone()));
            text.ranges.insert(name.into(), range);
        }
        for s in &rs.strs {
            let range = text.ranges.get(&**s).cloned();
            text.by_sid.push(range.unwrap_or(0..0));
        }
        text.bytes.shrink_to_fit();
        text
    }

    /// `name` as written, when it is a name of the ruleset.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        let range = match self.by_address.get(&str_address(name)) {
            Some((len, range)) if *len == name.len() => range,
            _ => self.ranges.get(name)?,
        };
        self.bytes.get(range.clone())
    }

    /// The interned string `sid` as written, when it is a name of the ruleset.
    pub(crate) fn get_sid(&self, sid: u32) -> Option<&[u8]> {
        let range = self.by_sid.get(sid as usize).filter(|r| !r.is_empty())?;
        self.bytes.get(range.clone())
    }
}

fn str_address(s: &str) -> usize {
    s.as_ptr() as usize
}

impl Ruleset {
    /// The JSON text of every return value, written on the first call.
    pub(crate) fn value_text(&self) -> &ValueText {
        self.value_text.get_or_init(|| ValueText::of(self))
    }

    /// Every name of the ruleset as `write` writes it, written on the first call for `slot`
    /// (`None` past the slots). Loading knows no name hashing: the caller gives each
    /// hashing its own slot and always the same `write` for it.
    pub(crate) fn hashed_names(
        &self,
        slot: usize,
        write: impl Fn(&mut Vec<u8>, &str),
    ) -> Option<&NameText> {
        let cell = self.hashed_names.get(slot)?;
        Some(cell.get_or_init(|| NameText::of(self, write)))
    }
}

/// Hashes an address: objects are 8-byte aligned and close together, so the low bits are
/// dropped and the rest spread by one multiplication (Fibonacci hashing).
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = ((n as u64) >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_return_value_has_its_serde_text() {
        let rs = Ruleset::from_json(
            br#"{"feature_gates": {}, "layer_configs": {}, "has_updates": true, "time": 1,
                 "condition_map": {}, "experiment_to_layer": {},
                 "dynamic_configs": {"c": {"type": "dynamic_config", "entity": "dynamic_config",
                   "salt": "s", "enabled": true, "idType": "userID",
                   "defaultValue": {"b": "x\"y", "a": [1, 2.5, {"z": null}]},
                   "rules": [{"id": "r", "name": "r", "passPercentage": 100, "conditions": [],
                              "returnValue": {"k": "\u00e9"}, "idType": "userID"}]}}}"#,
        )
        .expect("loads");
        let spec = &rs.configs.list[0];
        let text = rs.value_text();
        for v in [&spec.default_value, &spec.rules[0].return_value] {
            let ReturnValue::Object(map) = v else {
                panic!("an object")
            };
            assert_eq!(
                text.get(map),
                Some(&serde_json::to_vec(map).expect("serialises")[..])
            );
        }
        assert_eq!(text.get(&Map::new()), None, "an object of no ruleset");
        assert_eq!(text.get(&rs.empty), Some(&b"{}"[..]));
    }
}
