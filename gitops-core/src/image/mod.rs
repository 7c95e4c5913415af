//! Image automation, the pure half: image references, registry credentials, choosing a tag
//! from a registry's tags as Flux's image-reflector-controller and Argo CD Image Updater do,
//! and writing the choice back. Listing tags and reading manifests is
//! `gitops_render::registry`; cloning, committing and pushing is `gitops_render::git_push`.
//!
//! - [`reference`]: image references as Docker reads them (`nginx` is
//!   `docker.io/library/nginx`);
//! - [`flux`]: `ImagePolicy` and `ImageRepository`, and the tag a policy selects;
//! - [`updater`]: Argo CD Image Updater annotations, the tag each image selects, and whether
//!   the app needs an update;
//! - [`docker_config`]: credentials from a docker-registry Secret;
//! - [`go`]: the Go library rules both tools inherit (`Regexp.Expand`, `strconv.ParseFloat`);
//! - [`setters`]: Flux's `$imagepolicy` markers set in YAML text, every other byte kept;
//! - [`automation`]: Flux `ImageUpdateAutomation` and its commit message template;
//! - [`summary`]: the images an app runs (`status.summary.images`);
//! - [`write_back`]: Image Updater's `git` write-back files, commit message and branch.

pub mod automation;
pub mod docker_config;
pub mod flux;
pub mod go;
pub mod reference;
pub mod setters;
pub mod summary;
pub mod updater;
pub mod write_back;
