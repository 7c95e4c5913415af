//! The health vocabulary every layer shares: Argo CD's health statuses and their order.
//! Checks live in `gitops-health`; the status they give is defined here, so an app's status
//! (`crate::sync::status`) and an object's health speak the same type.

use std::fmt;

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
    /// Every status, in Argo CD's aggregation order (least severe first).
    pub const ALL: [HealthStatus; 6] = [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
        HealthStatus::Unknown,
    ];

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

    /// The status as Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parses a status spelled exactly as Argo CD does (case-sensitive, as its Lua contract is).
    pub fn parse(s: &str) -> Option<HealthStatus> {
        HealthStatus::ALL.into_iter().find(|h| h.as_str() == s)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_argo_order() {
        let mut all = HealthStatus::ALL;
        all.reverse();
        all.sort_by_key(|s| s.severity());
        assert_eq!(all, HealthStatus::ALL);
        assert_eq!(all[0], HealthStatus::Healthy);
        assert_eq!(all[5], HealthStatus::Unknown);
    }

    #[test]
    fn parse_is_exact() {
        assert_eq!(HealthStatus::parse("Degraded"), Some(HealthStatus::Degraded));
        assert_eq!(HealthStatus::parse("degraded"), None);
        assert_eq!(HealthStatus::parse(""), None);
    }
}
