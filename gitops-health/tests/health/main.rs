//! Integration tests of gitops-health. Table of contents:
//! - `corpus`: the fuzz corpus of hostile Lua scripts, each ending within its budget;
//! - `fixtures`: every `health_test.yaml` case, for the built-in checks
//!   (`tests/fixtures/builtin/`) and for the bundled scripts (`checks/`), compared exactly;
//! - `precedence`: which check decides, in Argo CD's order.

mod corpus;
mod fixtures;
mod precedence;
