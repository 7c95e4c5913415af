//! Health assessment of Kubernetes objects, with no I/O.
//!
//! This crate starts with the vocabulary every other layer shares: the health statuses
//! Argo CD reports and their order of severity. Built-in checks per kind and the Lua engine
//! for custom checks are the subject of the next issue.
//!
//! ```
//! use gitops_health::HealthStatus;
//! let worst = [HealthStatus::Healthy, HealthStatus::Degraded, HealthStatus::Progressing]
//!     .into_iter()
//!     .max_by_key(|s| s.severity())
//!     .unwrap();
//! assert_eq!(worst, HealthStatus::Degraded);
//! ```

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// The health of one object, as Argo CD names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// Working as intended.
    Healthy,
    /// Not yet healthy, may become so.
    Progressing,
    /// Suspended or paused on purpose.
    Suspended,
    /// Expected but absent.
    Missing,
    /// Failed, or cannot become healthy without help.
    Degraded,
    /// A check ran but could not decide.
    Unknown,
}

impl HealthStatus {
    /// Argo CD's aggregation order: the app takes the status of highest severity.
    pub fn severity(self) -> u8 {
        match self {
            HealthStatus::Healthy => 0,
            HealthStatus::Suspended => 1,
            HealthStatus::Progressing => 2,
            HealthStatus::Missing => 3,
            HealthStatus::Degraded => 4,
            HealthStatus::Unknown => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_argo_order() {
        let mut all = [
            HealthStatus::Unknown,
            HealthStatus::Degraded,
            HealthStatus::Missing,
            HealthStatus::Progressing,
            HealthStatus::Suspended,
            HealthStatus::Healthy,
        ];
        all.sort_by_key(|s| s.severity());
        assert_eq!(all[0], HealthStatus::Healthy);
        assert_eq!(all[5], HealthStatus::Unknown);
    }
}
