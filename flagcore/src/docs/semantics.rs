//! # Semantics
//!
//! flagcore follows Statsig's server core (`statsig-rust`), and the project's conformance
//! tests hold it to the official core's answers, line by line, on real payloads.
//!
//! - **Rules in order; conditions ANDed without short-circuit.** Every condition of a rule is
//!   evaluated, so nested gates in later conditions still produce secondary exposures.
//! - **A rule that matches decides, even when its percentage fails**: the result carries the
//!   rule's id with the spec's default value.
//! - **Gate values**: a passing rule gives `true` unless its return value is literally
//!   `false`; a default gives `true` only when it is literally `true`.
//! - **Nested gates** (`pass_gate`/`fail_gate`) are evaluated in isolation; their result and
//!   an exposure `{gate, gateValue, ruleID}` flow into the parent (segments contribute their
//!   children's exposures but never their own). Nesting deeper than 64 levels, or a cycle,
//!   aborts the evaluation with [`crate::Reason::DepthExceeded`].
//! - **Layers** delegate to an experiment (`configDelegate`) in the same result: value, rule
//!   and group come from the experiment, the exposures of the layer's own rules are the
//!   undelegated secondary exposures.
//! - **Multi-rule layers** (`useNewLayerEval: true`): every rule that passes (conditions
//!   and percentage) adds the parameters not set yet, then the default value fills the rest;
//!   only the first passing rule may delegate to an experiment, whose value, group and
//!   exposures it contributes. The result's rule id is the delegating rule's (else
//!   `default`); [`crate::Evaluation::parameter_rule_id`] names the rule behind each
//!   parameter, which layer exposures report. The value is a merged view
//!   ([`crate::JsonObject`]), so evaluation still allocates nothing. Such a layer may have
//!   at most 128 rules (a larger one is a [`crate::LoadError::Limit`]).
//! - **Config mapping** (`overrides` / `override_rules`): before a spec is evaluated, its
//!   mappings are tried in order; an entry whose `start_time` has come (by the evaluation
//!   clock) and whose rule passes (conditions, then the percentage salted with the
//!   *requested* spec's salt) makes the mapped spec, of the same kind, answer instead, with
//!   [`crate::Evaluation::override_config_name`] set. A mapped spec that does not exist
//!   abandons that mapping. Mapping applies to nested gates and layer delegates too. As in
//!   Statsig's core, an evaluation error (nesting too deep) in an entry's rule skips the
//!   entry, and one in the mapped spec abandons the mapping; mapping hops are not nested
//!   evaluations. Where Statsig's core has no bound and overflows its stack (a mapping
//!   cycle: more than 64 hops in a row), the evaluation ends with
//!   [`crate::Reason::DepthExceeded`].
//! - **`experiment_group` conditions** resolve the experiment's group in a fresh
//!   evaluation, as Statsig's core does with a separate top-level call: nesting starts
//!   again, and an error there means "no group". A cycle of such conditions (or a chain
//!   deeper than 8), where Statsig's core overflows its stack, ends the evaluation with
//!   [`crate::Reason::DepthExceeded`].
//! - **Bounded work**: one evaluation performs at most 10,000 spec evaluations (nested
//!   gates, delegates, mapped specs, experiment groups). Real payloads need a few dozen;
//!   payloads with mapping and gate cycles can otherwise branch at every nesting level
//!   (Statsig's core runs for minutes on them). Past the bound the result is
//!   [`crate::Reason::DepthExceeded`].
//! - **Unsupported** condition types or operators end the spec right after the rule with
//!   whatever the record holds, reported with [`crate::Reason::Unsupported`] exactly as Statsig
//!   shapes such results.
//! - **Strings and numbers** compare the way Statsig's core does: case-insensitive list
//!   operators, numbers turned into text as the official core does (integers without a
//!   fraction, other floats in their shortest form), versions compared part by part, times in
//!   milliseconds (seconds are scaled), regexes in the fancy-regex dialect.
//! - **User agents** are parsed by a re-implementation of Statsig's first-party parser
//!   ([`crate::ua`]), which agrees with the official one on thousands of real strings.
//! - **Legacy v1 payloads** (arrays of specs with inline conditions) are converted while
//!   loading and answer exactly like their `dcs-v2` equivalent.
