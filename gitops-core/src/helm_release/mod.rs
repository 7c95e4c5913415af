//! Flux's `HelmRelease` (`helm.toolkit.fluxcd.io/v2`): what a release is made of and how it
//! moves from one Helm revision to the next, as helm-controller decides it.
//!
//! - [`spec`]: the HelmRelease read, with Flux's defaults (release name, namespaces, actions);
//! - [`values`]: the values a release is rendered with (`valuesFrom`, then `values`);
//! - [`history`]: the Helm release records an install, upgrade, rollback or uninstall writes;
//! - [`remediation`]: what helm-controller does next (install, upgrade, unlock, roll back,
//!   uninstall, nothing), and the failure counters behind its retries;
//! - [`status`]: the HelmRelease's `.status` after an action, as helm-controller writes it.
//!
//! Pure, like the rest of the core: the caller reads the chart, the referenced ConfigMaps and
//! Secrets and the release Secrets, and writes what these modules return.

pub mod history;
pub mod remediation;
pub mod spec;
pub mod status;
pub mod values;
