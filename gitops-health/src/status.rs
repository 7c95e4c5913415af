//! A health status with its message. The statuses themselves are the core's
//! ([`gitops_core::health::HealthStatus`]), shared with app status.

use serde::{Deserialize, Serialize};

pub use gitops_core::health::HealthStatus;

/// A status with the message that explains it (empty when the check gives none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The status.
    pub status: HealthStatus,
    /// The check's message; `""` when it gave none.
    pub message: String,
}

impl Health {
    /// A status with a message.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        Health { status, message: message.into() }
    }

    /// A status with no message.
    pub fn bare(status: HealthStatus) -> Health {
        Health { status, message: String::new() }
    }
}
