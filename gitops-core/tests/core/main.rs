//! Integration tests of gitops-core, one binary (as ripgrep and gitoxide do).
//!
//! - `fixtures`: realistic desired/live pairs under `tests/fixtures/diff/`, each with the
//!   status and changed paths a faithful engine must report;
//! - `properties`: the algebra of the diff, checked by proptest;
//! - `regressions`: inputs that once crashed or misbehaved (fuzz findings land here);
//! - `sync`: sync planning, rule by rule and as properties over random apps.

mod fixtures;
mod properties;
mod regressions;
mod sync;
