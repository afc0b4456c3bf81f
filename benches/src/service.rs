//! The workload of a service: a check per request, for users it has not seen.
//!
//! [`PAYLOAD`] is a small `download_config_specs` payload with one entity per synthetic row
//! of the `service` benchmark; [`Users`] holds [`USERS`] distinct users, built once, for
//! the timed loops to cycle through (so that hashes, caches and branch predictors see what
//! a service sees, not the same few users again and again).
//!
//! The entities, with Statsig-length (UUID) salts so that hash inputs have real sizes:
//!
//! | name | kind | rules |
//! | --- | --- | --- |
//! | [`ROLLOUT_50`] | gate | everyone (`public`), 50% pass |
//! | [`TARGETING_30`] | gate | email ends with `@example.com`, 30% pass; else country in `DE`, `FR`, `GB`, 30% pass |
//! | [`EXPERIMENT_3WAY`] | experiment | three groups by `user_bucket` (< 333, < 666, < 1000), each with a `price` and a `color` parameter |
//!
//! One user in three has an `@example.com` address; countries cycle through eight codes
//! (three of them targeted).

use std::path::Path;

use flagcore::{Store, User};

/// How many distinct users a service benchmark cycles through.
pub const USERS: usize = 100_000;

/// A gate that passes half of everyone.
pub const ROLLOUT_50: &str = "rollout_50";
/// A gate with two targeting rules (an email suffix, a country list), each at 30%.
pub const TARGETING_30: &str = "targeting_30";
/// An experiment with three equal groups.
pub const EXPERIMENT_3WAY: &str = "experiment_3way";
/// The parameter of [`EXPERIMENT_3WAY`] the benchmark reads.
pub const PARAMETER: &str = "color";

/// The salts of [`ROLLOUT_50`]: the gate's and its rule's. Statsig hashes
/// `"{gate salt}.{rule salt}.{userID}"` to bucket a user.
pub const ROLLOUT_SALTS: (&str, &str) = (
    "5c0b3e8e-6d0a-4a52-9a57-1d6f7c1e2b4a",
    "0f3a5d9c-2b71-4e8f-a6c4-9d2e7b1a8c35",
);

/// The salt of [`EXPERIMENT_3WAY`]'s `user_bucket` conditions. Statsig hashes
/// `"{salt}.{userID}"` for them.
pub const EXPERIMENT_SALT: &str = "b7e4c2a1-9f3d-4c6b-8e25-a1d7f9c3e6b0";

/// The payload (`download_config_specs` format) with [`ROLLOUT_50`], [`TARGETING_30`] and
/// [`EXPERIMENT_3WAY`].
pub const PAYLOAD: &str = r#"{
  "feature_gates": {
    "rollout_50": {"type": "feature_gate", "entity": "feature_gate", "enabled": true,
      "salt": "5c0b3e8e-6d0a-4a52-9a57-1d6f7c1e2b4a", "defaultValue": false, "idType": "userID",
      "rules": [{"id": "r50", "name": "everyone", "passPercentage": 50, "conditions": ["public"],
        "returnValue": true, "idType": "userID", "salt": "0f3a5d9c-2b71-4e8f-a6c4-9d2e7b1a8c35"}]},
    "targeting_30": {"type": "feature_gate", "entity": "feature_gate", "enabled": true,
      "salt": "3e9a7c15-4b2d-4f86-b0e1-7c5a2d9f4e83", "defaultValue": false, "idType": "userID",
      "rules": [
        {"id": "by_email", "name": "by email", "passPercentage": 30, "conditions": ["email_suffix"],
          "returnValue": true, "idType": "userID", "salt": "8d1f6b3a-5e9c-42a7-b4d0-e2c8a6f1b937"},
        {"id": "by_country", "name": "by country", "passPercentage": 30, "conditions": ["country_list"],
          "returnValue": true, "idType": "userID", "salt": "6a2c9e4f-1d7b-4b3e-9f58-c0a4e7d2b61f"}]}
  },
  "dynamic_configs": {
    "experiment_3way": {"type": "dynamic_config", "entity": "experiment", "enabled": true,
      "isActive": true, "hasSharedParams": false,
      "salt": "b7e4c2a1-9f3d-4c6b-8e25-a1d7f9c3e6b0", "defaultValue": {}, "idType": "userID",
      "rules": [
        {"id": "g_control", "name": "g_control", "groupName": "Control", "isExperimentGroup": true,
          "passPercentage": 100, "conditions": ["bucket_333"], "idType": "userID",
          "salt": "g_control", "returnValue": {"price": 10, "color": "blue"}},
        {"id": "g_test_a", "name": "g_test_a", "groupName": "Test A", "isExperimentGroup": true,
          "passPercentage": 100, "conditions": ["bucket_666"], "idType": "userID",
          "salt": "g_test_a", "returnValue": {"price": 12, "color": "green"}},
        {"id": "g_test_b", "name": "g_test_b", "groupName": "Test B", "isExperimentGroup": true,
          "passPercentage": 100, "conditions": ["bucket_1000"], "idType": "userID",
          "salt": "g_test_b", "returnValue": {"price": 14, "color": "red"}}]}
  },
  "layer_configs": {},
  "experiment_to_layer": {},
  "condition_map": {
    "public": {"type": "public", "idType": "userID"},
    "email_suffix": {"type": "user_field", "field": "email", "operator": "str_ends_with_any",
      "targetValue": ["@example.com"], "idType": "userID"},
    "country_list": {"type": "user_field", "field": "country", "operator": "any",
      "targetValue": ["DE", "FR", "GB"], "idType": "userID"},
    "bucket_333": {"type": "user_bucket", "operator": "lt", "targetValue": 333,
      "additionalValues": {"salt": "b7e4c2a1-9f3d-4c6b-8e25-a1d7f9c3e6b0"}, "idType": "userID"},
    "bucket_666": {"type": "user_bucket", "operator": "lt", "targetValue": 666,
      "additionalValues": {"salt": "b7e4c2a1-9f3d-4c6b-8e25-a1d7f9c3e6b0"}, "idType": "userID"},
    "bucket_1000": {"type": "user_bucket", "operator": "lt", "targetValue": 1000,
      "additionalValues": {"salt": "b7e4c2a1-9f3d-4c6b-8e25-a1d7f9c3e6b0"}, "idType": "userID"}
  },
  "has_updates": true,
  "time": 1764633600000
}"#;

const COUNTRIES: [&str; 8] = ["US", "DE", "BR", "FR", "IN", "GB", "JP", "CA"];

/// The attributes of user `i`: `(userID, email, country)`.
pub fn attributes(i: usize) -> (String, String, &'static str) {
    let id = format!("user-{i:06}");
    let domain = if i % 3 == 0 {
        "example.com"
    } else {
        "mail.test"
    };
    let email = format!("name{i}@{domain}");
    (id, email, COUNTRIES[i % COUNTRIES.len()])
}

/// User `i` as Statsig user JSON (for the C ABI and [`flagcore::UserData`]).
pub fn user_json(i: usize) -> String {
    let (id, email, country) = attributes(i);
    format!(r#"{{"userID": "{id}", "email": "{email}", "country": "{country}"}}"#)
}

/// [`USERS`] distinct users' attributes, owned; [`Users::views`] borrows them.
pub struct Users {
    attributes: Vec<(String, String, &'static str)>,
}

impl Users {
    /// Builds `n` users (user `i` is [`attributes`]`(i)`).
    pub fn new(n: usize) -> Users {
        Users {
            attributes: (0..n).map(attributes).collect(),
        }
    }

    /// The users' ids (what a bucketing hash reads).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.attributes.iter().map(|(id, _, _)| id.as_str())
    }

    /// Borrowed views, as a service builds them from its request: `userID`, `email` and
    /// `country`.
    pub fn views(&self) -> Vec<User<'_>> {
        self.attributes
            .iter()
            .map(|(id, email, country)| {
                User::with_user_id(id.as_str())
                    .email(email.as_str())
                    .country(*country)
            })
            .collect()
    }
}

/// Cycles through `0..n`: the index of the next user.
#[derive(Debug)]
pub struct Cycle {
    next: usize,
    n: usize,
}

impl Cycle {
    /// A cycle over `0..n` (`n > 0`).
    pub fn new(n: usize) -> Cycle {
        assert!(n > 0, "an empty cycle");
        Cycle { next: 0, n }
    }

    /// The next index (wrapping to 0 after `n - 1`).
    #[inline]
    #[allow(clippy::should_implement_trait)] // Never ends; an `Iterator` would suggest it may.
    pub fn next(&mut self) -> usize {
        let i = self.next;
        self.next = if i + 1 == self.n { 0 } else { i + 1 };
        i
    }
}

/// A store with `payload` installed.
pub fn store(payload: &[u8]) -> Store {
    let store = Store::new();
    store.load_json(payload).expect("payload loads");
    store
}

/// The stores of the service workloads: [`PAYLOAD`]'s, and the real `eval_proj` fixture's
/// (`conformance/fixtures/eval_proj`, for its gate `test_50_50`).
pub fn stores() -> (Store, Store) {
    let eval_proj = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/eval_proj/dcs.json"),
    )
    .expect("eval_proj payload (conformance/ is part of the repository)");
    (store(PAYLOAD.as_bytes()), store(&eval_proj))
}
