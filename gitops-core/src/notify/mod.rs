//! Notifications, pure: Flux's events, Alerts and Providers (which Alerts take an event, the
//! metadata and rate-limit key, each provider's requests) in [`event`], [`flux`] and
//! [`payload`]; Argo CD's notifications (triggers, templates, subscriptions, the notified
//! state) in [`argo`]. Sending is done by `gitops_render::notify`.
//!
//! ```
//! use gitops_core::notify::{event::Event, flux};
//!
//! let event = Event::parse("EVENT.yaml", "
//! involvedObject: {kind: Kustomization, namespace: apps, name: web, apiVersion: kustomize.toolkit.fluxcd.io/v1}
//! severity: error
//! reason: HealthCheckFailed
//! message: 'health check failed after 5m: Deployment/apps/web not ready'
//! ")?;
//! let doc = gitops_core::yaml::parse_documents("
//! apiVersion: notification.toolkit.fluxcd.io/v1beta3
//! kind: Alert
//! metadata: {name: on-errors, namespace: apps}
//! spec:
//!   providerRef: {name: slack}
//!   eventSeverity: error
//!   eventSources: [{kind: Kustomization, name: '*'}]
//!   exclusionList: ['DependencyNotReady']
//! ").unwrap().remove(0);
//! let alert = flux::read_alert("alert.yaml", &doc.value, &mut Vec::new())?.expect("an Alert");
//! let routing = flux::route(&[alert], &event, &|_| None);
//! assert_eq!(routing.alerts, [0]);
//! # Ok::<(), gitops_core::notify::NotifyError>(())
//! ```

pub mod argo;
pub mod event;
pub mod flux;
pub mod payload;

/// Why notification objects cannot be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// A document (event, Alert, Provider, Secret, ConfigMap) is malformed.
    #[error("{file}: {reason}")]
    Invalid {
        /// The file or document.
        file: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A Provider cannot be used (a Secret missing, no address).
    #[error("Provider {provider}: {reason}")]
    Provider {
        /// `namespace/name`.
        provider: String,
        /// Why.
        reason: String,
    },
}
