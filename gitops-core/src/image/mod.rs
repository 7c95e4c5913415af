//! Image automation, the pure half: image references, registry credentials, and choosing a
//! tag from a registry's tags as Flux's image-reflector-controller and Argo CD Image Updater
//! do. Listing tags and reading manifests is `gitops_render::registry`.
//!
//! - [`reference`]: image references as Docker reads them (`nginx` is
//!   `docker.io/library/nginx`);
//! - [`flux`]: `ImagePolicy` and `ImageRepository`, and the tag a policy selects;
//! - [`updater`]: Argo CD Image Updater annotations, the tag each image selects, and whether
//!   the app needs an update;
//! - [`docker_config`]: credentials from a docker-registry Secret;
//! - [`go`]: the Go library rules both tools inherit (`Regexp.Expand`, `strconv.ParseFloat`).

pub mod docker_config;
pub mod flux;
pub mod go;
pub mod reference;
pub mod updater;
