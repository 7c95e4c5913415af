//! Image automation, the pure half: image references, and choosing a tag from a registry's
//! tags as Flux's image-reflector-controller and Argo CD Image Updater do.
//!
//! - [`reference`]: image references as Docker reads them (`nginx` is
//!   `docker.io/library/nginx`).

pub mod flux;
pub mod go;
pub mod reference;
