//! Integration tests of gitops-health. Table of contents:
//! - `fixtures`: every `health_test.yaml` case, for the built-in checks
//!   (`tests/fixtures/builtin/`) and for the bundled scripts (`checks/`), compared exactly;
//! - `precedence`: which check decides, in Argo CD's order.

mod fixtures;
mod precedence;
