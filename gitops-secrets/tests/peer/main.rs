//! gitops-secrets against the real peers: `sops` (tools/sops/build.sh, `GITOPS_SOPS`), `gpg`
//! for OpenPGP keys, and kubeseal (`GITOPS_KUBESEAL`). With the variable set and the program
//! broken, the tests fail; unset, they print a note and pass without checking.

mod sops_peer;
mod support;
