//! Images and their automation: Flux setters and Argo CD Image Updater write-back.

pub mod automation;
pub mod setters;
pub mod write_back;
