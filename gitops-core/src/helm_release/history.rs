//! The release records a Helm action leaves in storage, as Helm 3's own `helm install`,
//! `upgrade`, `rollback` and `uninstall` leave them (its `pkg/action` and `pkg/storage`), so
//! that `helm history` after a HelmRelease reconciliation reads as it does under Flux.
//!
//! What Helm does, and this module with it:
//! - a new revision is the last one + 1 (an install over a history kept by
//!   `uninstall --keep-history` or over a failed install continues the numbering);
//! - the new revision is written `pending-*` first; on completion it is `deployed` or `failed`,
//!   never left pending (only an interrupted action, or a failed rollback hook, leaves one);
//! - an upgrade or rollback that succeeds marks the previously deployed revision `superseded`
//!   (a rollback: every deployed one); a failed upgrade leaves it `deployed`; an upgrade over a
//!   release with no deployed revision supersedes the last (failed) one when it succeeds;
//! - before writing a new revision, the oldest ones beyond `max_history - 1` are deleted, except
//!   the last deployed one (0: no limit).
//!
//! Pure: the caller passes the history read from storage and the action's outcome (and the
//! time), and writes what [`record`] returns.

use serde_json::{Map, Value, json};

use crate::helm_storage::{Release, Status};

/// Why an action cannot be recorded: Helm refuses it before writing anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Nothing in storage to upgrade, roll back or uninstall.
    #[error("release {name}: not found in storage")]
    NotFound {
        /// The release name.
        name: String,
    },
    /// An upgrade found no deployed, failed or superseded revision to start from.
    #[error("release {name}: has no deployed releases")]
    NoDeployed {
        /// The release name.
        name: String,
    },
    /// An install over a history that is not uninstalled or failed, or without `replace`.
    #[error("release {name}: cannot re-use a name that is still in use")]
    NameInUse {
        /// The release name.
        name: String,
    },
    /// The last revision is `pending-*`: another action runs, or one was interrupted (unlock it).
    #[error(
        "release {name}: another operation (install/upgrade/rollback) is in progress (revision {version} is {status})"
    )]
    Pending {
        /// The release name.
        name: String,
        /// The pending revision.
        version: u32,
        /// Its status.
        status: &'static str,
    },
    /// A rollback to a revision that is not in the history.
    #[error("release {name}: release has no {version} version")]
    NoVersion {
        /// The release name.
        name: String,
        /// The revision asked for.
        version: u32,
    },
    /// An uninstall with `keep_history` of a release already uninstalled.
    #[error("release {name}: the release named \"{name}\" is already deleted")]
    AlreadyDeleted {
        /// The release name.
        name: String,
    },
}

/// The Helm action attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `helm install`; `replace` (`--replace`) allows it over a history whose last revision is
    /// uninstalled or failed.
    Install {
        /// `--replace`.
        replace: bool,
    },
    /// `helm upgrade`.
    Upgrade,
    /// `helm rollback <name> <to>`; 0 is the revision before the last, as Helm reads it.
    Rollback {
        /// The revision whose chart, values and manifest are deployed again.
        to: u32,
    },
    /// `helm uninstall`, keeping the records (`--keep-history`) or deleting them all.
    Uninstall {
        /// `--keep-history`.
        keep_history: bool,
    },
}

/// Where a failed action failed: Helm records the failure differently for a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A hook (`pre-*`/`post-*`) failed. A rollback's revision stays `pending-rollback`.
    Hooks,
    /// Creating or updating the objects failed. A rollback supersedes the last revision and
    /// records `Rollback "<name>" failed: <error>`.
    Apply,
    /// Waiting for the objects failed. A rollback records `Release "<name>" failed: <error>`.
    Wait,
}

/// How an action failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where.
    pub stage: Stage,
    /// The error as Helm words it (`failed pre-install: ...`, `context deadline exceeded`).
    pub message: String,
}

/// One attempted action and its outcome. Call [`record`] only for an action that got as far as
/// writing its revision: Helm writes nothing when rendering or validating the chart fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The action.
    pub kind: Kind,
    /// `None` when it succeeded.
    pub failure: Option<Failure>,
    /// The chart's `Chart.yaml` as JSON (install, upgrade; a rollback takes the target's).
    pub chart_metadata: Value,
    /// The chart's default values.
    pub chart_values: Value,
    /// The values given (`helm get values`).
    pub config: Value,
    /// The rendered manifests.
    pub manifest: String,
    /// The rendered NOTES.txt.
    pub notes: String,
    /// Everything else of the release JSON (`hooks`, `labels`, `chart.templates`...), as in
    /// [`Release::rest`].
    pub extra: Map<String, Value>,
    /// The time of the action, RFC 3339 as Helm writes it (`2026-12-07T10:00:00.123456789Z`).
    pub now: String,
}

/// What to write to storage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Writes {
    /// Revisions to create or replace, oldest first.
    pub put: Vec<Release>,
    /// Release Secrets to delete (`sh.helm.release.v1.<name>.v<N>`), oldest first.
    pub delete: Vec<String>,
}

/// The latest revision (what `helm status` shows), whatever its status.
pub fn current(history: &[Release]) -> Option<&Release> {
    history.iter().max_by_key(|r| r.version)
}

/// The latest `deployed` revision (the one an upgrade replaces and pruning keeps).
pub fn last_deployed(history: &[Release]) -> Option<&Release> {
    history.iter().filter(|r| r.status == Status::Deployed).max_by_key(|r| r.version)
}

/// helm-controller's unlock of a release left `pending-*`: the last revision marked `failed`
/// ("Release unlocked from stale '<status>' state"); `None` when it is not pending.
pub fn unlock(history: &[Release]) -> Option<Release> {
    let last = current(history).filter(|r| is_pending(r.status))?;
    let mut r = last.clone();
    r.description = format!("Release unlocked from stale '{}' state", last.status.as_str());
    r.status = Status::Failed;
    Some(r)
}

fn is_pending(s: Status) -> bool {
    matches!(s, Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback)
}

/// The revisions Helm's `removeLeastRecent` deletes to make room for one more: the oldest
/// beyond `max_history - 1`, passing over the last deployed one.
fn prune(state: &[Release], max_history: usize) -> Vec<u32> {
    if max_history == 0 || state.len() < max_history {
        return Vec::new();
    }
    let keep = max_history - 1;
    let deployed = last_deployed(state).map(|r| r.version);
    let mut sorted: Vec<u32> = state.iter().map(|r| r.version).collect();
    sorted.sort_unstable();
    let mut out = Vec::new();
    for v in sorted {
        if state.len() - out.len() == keep {
            break;
        }
        if Some(v) != deployed {
            out.push(v);
        }
    }
    out
}

/// The records left by `attempt` on release `name` with history `history` (any order; other
/// releases' records passed over), keeping at most `max_history` revisions (0: all).
/// `namespace` (where the objects go) is an install's; an upgrade or rollback keeps the
/// release's own, as Helm does.
pub fn record(
    history: &[Release],
    name: &str,
    namespace: &str,
    attempt: &Attempt,
    max_history: usize,
) -> Result<Writes, Error> {
    let mut state: Vec<Release> = history.iter().filter(|r| r.name == name).cloned().collect();
    state.sort_by_key(|r| r.version);
    let mut changed: Vec<u32> = Vec::new();
    let last_version = state.last().map(|r| r.version);
    let at = |state: &mut Vec<Release>, v: u32| state.iter().position(|r| r.version == v);
    let fresh = |version: u32, ns: &str, first: &str| Release {
        name: name.to_string(),
        namespace: ns.to_string(),
        version,
        status: Status::Unknown,
        description: String::new(),
        first_deployed: first.to_string(),
        last_deployed: attempt.now.clone(),
        notes: attempt.notes.clone(),
        chart_metadata: attempt.chart_metadata.clone(),
        chart_values: attempt.chart_values.clone(),
        config: attempt.config.clone(),
        manifest: attempt.manifest.clone(),
        rest: attempt.extra.clone(),
    };
    let failed_text = |what: &str, f: &Failure| format!("{what} \"{name}\" failed: {}", f.message);
    if let Some(last) = state.last()
        && is_pending(last.status)
        && attempt.kind == Kind::Upgrade
    {
        return Err(Error::Pending { name: name.into(), version: last.version, status: last.status.as_str() });
    }
    let mut new = match attempt.kind {
        Kind::Install { replace } => {
            let version = match state.last_mut() {
                None => 1,
                Some(last) => {
                    if !replace || !matches!(last.status, Status::Uninstalled | Status::Failed) {
                        return Err(Error::NameInUse { name: name.into() });
                    }
                    if last.status != Status::Failed {
                        last.status = Status::Superseded;
                        last.description = "superseded by new release".into();
                        changed.push(last.version);
                    }
                    last.version + 1
                }
            };
            fresh(version, namespace, &attempt.now)
        }
        Kind::Upgrade => {
            let Some(last) = state.last() else { return Err(Error::NoDeployed { name: name.into() }) };
            let base = match last_deployed(&state) {
                Some(d) => d,
                None if matches!(last.status, Status::Failed | Status::Superseded) => last,
                None => return Err(Error::NoDeployed { name: name.into() }),
            };
            let mut r = fresh(last.version + 1, &base.namespace, &base.first_deployed);
            if !r.rest.contains_key("labels")
                && let Some(labels) = last.rest.get("labels")
            {
                r.rest.insert("labels".into(), labels.clone());
            }
            r
        }
        Kind::Rollback { to } => {
            let Some(last) = state.last() else { return Err(Error::NotFound { name: name.into() }) };
            let to = if to == 0 { last.version.saturating_sub(1) } else { to };
            let Some(target) = state.iter().find(|r| r.version == to) else {
                return Err(Error::NoVersion { name: name.into(), version: to });
            };
            Release {
                name: name.to_string(),
                namespace: last.namespace.clone(),
                version: last.version + 1,
                status: Status::PendingRollback,
                description: format!("Rollback to {to}"),
                first_deployed: last.first_deployed.clone(),
                last_deployed: attempt.now.clone(),
                notes: target.notes.clone(),
                chart_metadata: target.chart_metadata.clone(),
                chart_values: target.chart_values.clone(),
                config: target.config.clone(),
                manifest: target.manifest.clone(),
                rest: without_deleted(&target.rest),
            }
        }
        Kind::Uninstall { keep_history } => return uninstall(state, name, keep_history, attempt),
    };
    // Storage.Create prunes before the new revision is written.
    let pruned = prune(&state, max_history);
    state.retain(|r| !pruned.contains(&r.version));
    match (attempt.kind, &attempt.failure) {
        (Kind::Install { .. }, None) => {
            new.status = Status::Deployed;
            new.description = "Install complete".into();
        }
        (Kind::Install { .. }, Some(f)) => {
            new.status = Status::Failed;
            new.description = failed_text("Release", f);
        }
        (Kind::Upgrade, None) => {
            let base = last_deployed(&state).map(|r| r.version).or_else(|| {
                state.last().filter(|r| matches!(r.status, Status::Failed | Status::Superseded)).map(|r| r.version)
            });
            if let Some(i) = base.and_then(|v| at(&mut state, v)) {
                state[i].status = Status::Superseded;
                changed.push(state[i].version);
            }
            new.status = Status::Deployed;
            new.description = "Upgrade complete".into();
        }
        (Kind::Upgrade, Some(f)) => {
            new.status = Status::Failed;
            new.description = failed_text("Upgrade", f);
        }
        (Kind::Rollback { .. }, None) => {
            for r in state.iter_mut().filter(|r| r.status == Status::Deployed) {
                r.status = Status::Superseded;
                changed.push(r.version);
            }
            new.status = Status::Deployed;
        }
        (Kind::Rollback { .. }, Some(f)) => match f.stage {
            Stage::Hooks => {}
            Stage::Apply => {
                if let Some(i) = last_version.and_then(|v| at(&mut state, v)) {
                    state[i].status = Status::Superseded;
                    changed.push(state[i].version);
                }
                new.status = Status::Failed;
                new.description = failed_text("Rollback", f);
            }
            Stage::Wait => {
                new.status = Status::Failed;
                new.description = failed_text("Release", f);
            }
        },
        (Kind::Uninstall { .. }, _) => {}
    }
    let mut put: Vec<Release> = state.into_iter().filter(|r| changed.contains(&r.version)).collect();
    put.push(new);
    let delete = history
        .iter()
        .filter(|r| r.name == name && pruned.contains(&r.version))
        .map(|r| (r.version, r.secret_name()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect();
    Ok(Writes { put, delete })
}

/// `helm uninstall`: the last revision `uninstalled` (kept) or every record deleted.
fn uninstall(mut state: Vec<Release>, name: &str, keep_history: bool, attempt: &Attempt) -> Result<Writes, Error> {
    let Some(last) = state.last_mut() else { return Err(Error::NotFound { name: name.into() }) };
    if last.status == Status::Uninstalled && keep_history {
        return Err(Error::AlreadyDeleted { name: name.into() });
    }
    if attempt.failure.is_some() {
        // The objects could not be deleted: Helm leaves the record `uninstalling`.
        last.status = Status::Uninstalling;
        last.description = "Deletion in progress (or silently failed)".into();
        set_deleted(last, &attempt.now);
        return Ok(Writes { put: vec![last.clone()], delete: Vec::new() });
    }
    if last.status == Status::Uninstalled || !keep_history {
        return Ok(Writes { put: Vec::new(), delete: state.iter().map(Release::secret_name).collect() });
    }
    last.status = Status::Uninstalled;
    last.description = "Uninstallation complete".into();
    set_deleted(last, &attempt.now);
    Ok(Writes { put: vec![last.clone()], delete: Vec::new() })
}

/// `info.deleted`, which Helm sets when an uninstall starts.
fn set_deleted(r: &mut Release, now: &str) {
    let info = r.rest.entry("info").or_insert_with(|| json!({}));
    if let Value::Object(m) = info {
        m.insert("deleted".into(), json!(now));
    }
}

/// A rollback builds a new `Info`: nothing of the target's `deleted` carries over.
fn without_deleted(rest: &Map<String, Value>) -> Map<String, Value> {
    let mut rest = rest.clone();
    if let Some(Value::Object(info)) = rest.get_mut("info") {
        info.remove("deleted");
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(kind: Kind, failure: Option<Failure>, version: &str, now: &str) -> Attempt {
        Attempt {
            kind,
            failure,
            chart_metadata: json!({"name": "podinfo", "version": version, "apiVersion": "v2"}),
            chart_values: json!({"replicas": 1}),
            config: json!({"tag": version}),
            manifest: format!("# chart {version}\n"),
            notes: String::new(),
            extra: Map::new(),
            now: now.into(),
        }
    }

    fn fail(stage: Stage, message: &str) -> Option<Failure> {
        Some(Failure { stage, message: message.into() })
    }

    /// Applies `w` to `h` as a caller writing the Secrets would.
    fn apply(h: &mut Vec<Release>, w: &Writes) {
        h.retain(|r| !w.delete.contains(&r.secret_name()));
        for r in &w.put {
            h.retain(|o| o.version != r.version);
            h.push(r.clone());
        }
        h.sort_by_key(|r| r.version);
    }

    fn run(h: &mut Vec<Release>, a: &Attempt, max: usize) -> Writes {
        let w = record(h, "podinfo", "apps", a, max).unwrap();
        apply(h, &w);
        w
    }

    fn summary(h: &[Release]) -> Vec<(u32, &'static str, String)> {
        h.iter().map(|r| (r.version, r.status.as_str(), r.description.clone())).collect()
    }

    #[test]
    fn install_then_upgrade_supersedes_and_keeps_first_deployed() {
        let mut h = Vec::new();
        run(&mut h, &attempt(Kind::Install { replace: false }, None, "6.5.0", "t1"), 5);
        run(&mut h, &attempt(Kind::Upgrade, None, "6.5.1", "t2"), 5);
        assert_eq!(
            summary(&h),
            [(1, "superseded", "Install complete".into()), (2, "deployed", "Upgrade complete".into())]
        );
        assert_eq!((h[1].first_deployed.as_str(), h[1].last_deployed.as_str()), ("t1", "t2"));
        assert_eq!(h[1].namespace, "apps");
        assert_eq!(current(&h).unwrap().version, 2);
        assert_eq!(last_deployed(&h).unwrap().version, 2);
        // A second install is refused, as `helm install` refuses a name in use.
        let again = record(&h, "podinfo", "apps", &attempt(Kind::Install { replace: true }, None, "1", "t3"), 5);
        assert_eq!(again.unwrap_err(), Error::NameInUse { name: "podinfo".into() });
    }

    #[test]
    fn failed_upgrade_leaves_deployed_then_rollback_to_1() {
        let mut h = Vec::new();
        run(&mut h, &attempt(Kind::Install { replace: false }, None, "6.5.0", "t1"), 5);
        run(&mut h, &attempt(Kind::Upgrade, fail(Stage::Wait, "context deadline exceeded"), "6.5.1", "t2"), 5);
        assert_eq!(
            summary(&h),
            [
                (1, "deployed", "Install complete".into()),
                (2, "failed", "Upgrade \"podinfo\" failed: context deadline exceeded".into())
            ]
        );
        let w = run(&mut h, &attempt(Kind::Rollback { to: 1 }, None, "ignored", "t3"), 5);
        assert_eq!(w.put.iter().map(|r| r.version).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(
            summary(&h),
            [
                (1, "superseded", "Install complete".into()),
                (2, "failed", "Upgrade \"podinfo\" failed: context deadline exceeded".into()),
                (3, "deployed", "Rollback to 1".into())
            ]
        );
        // The rollback deploys revision 1's chart, values and manifest again.
        assert_eq!(h[2].chart_metadata["version"], "6.5.0");
        assert_eq!(h[2].config, json!({"tag": "6.5.0"}));
        assert_eq!(h[2].manifest, "# chart 6.5.0\n");
        assert_eq!((h[2].first_deployed.as_str(), h[2].last_deployed.as_str()), ("t1", "t3"));
        let missing = record(&h, "podinfo", "apps", &attempt(Kind::Rollback { to: 9 }, None, "", "t4"), 5);
        assert_eq!(missing.unwrap_err().to_string(), "release podinfo: release has no 9 version");
    }

    #[test]
    fn failed_rollbacks_are_recorded_by_stage() {
        let mut base = Vec::new();
        run(&mut base, &attempt(Kind::Install { replace: false }, None, "1.0.0", "t1"), 0);
        run(&mut base, &attempt(Kind::Upgrade, None, "2.0.0", "t2"), 0);
        let mut h = base.clone();
        run(&mut h, &attempt(Kind::Rollback { to: 0 }, fail(Stage::Apply, "boom"), "", "t3"), 0);
        assert_eq!(
            summary(&h),
            [
                (1, "superseded", "Install complete".into()),
                (2, "superseded", "Upgrade complete".into()),
                (3, "failed", "Rollback \"podinfo\" failed: boom".into())
            ]
        );
        let mut h = base.clone();
        run(&mut h, &attempt(Kind::Rollback { to: 0 }, fail(Stage::Wait, "timed out"), "", "t3"), 0);
        assert_eq!(summary(&h)[1].1, "deployed");
        assert_eq!(summary(&h)[2], (3, "failed", "Release \"podinfo\" failed: timed out".into()));
        let mut h = base;
        run(&mut h, &attempt(Kind::Rollback { to: 0 }, fail(Stage::Hooks, "hook"), "", "t3"), 0);
        assert_eq!(summary(&h)[2], (3, "pending-rollback", "Rollback to 1".into()));
        let e = record(&h, "podinfo", "apps", &attempt(Kind::Upgrade, None, "3", "t4"), 0).unwrap_err();
        assert!(matches!(e, Error::Pending { version: 3, .. }), "{e}");
    }

    #[test]
    fn failed_install_then_upgrade_supersedes_the_failed_revision() {
        let mut h = Vec::new();
        run(&mut h, &attempt(Kind::Install { replace: false }, fail(Stage::Apply, "no"), "1.0.0", "t1"), 5);
        assert_eq!(summary(&h), [(1, "failed", "Release \"podinfo\" failed: no".into())]);
        run(&mut h, &attempt(Kind::Upgrade, None, "1.0.1", "t2"), 5);
        assert_eq!(
            summary(&h),
            [(1, "superseded", "Release \"podinfo\" failed: no".into()), (2, "deployed", "Upgrade complete".into())]
        );
    }

    #[test]
    fn uninstall_with_and_without_history_and_install_after() {
        let mut h = Vec::new();
        run(&mut h, &attempt(Kind::Install { replace: false }, None, "1.0.0", "t1"), 5);
        run(&mut h, &attempt(Kind::Upgrade, None, "1.0.1", "t2"), 5);
        let mut kept = h.clone();
        run(&mut kept, &attempt(Kind::Uninstall { keep_history: true }, None, "", "t3"), 5);
        assert_eq!(summary(&kept)[1], (2, "uninstalled", "Uninstallation complete".into()));
        assert_eq!(kept[1].rest["info"]["deleted"], "t3");
        let again =
            record(&kept, "podinfo", "apps", &attempt(Kind::Uninstall { keep_history: true }, None, "", "t"), 5);
        assert!(matches!(again, Err(Error::AlreadyDeleted { .. })));
        let refused = record(&kept, "podinfo", "apps", &attempt(Kind::Install { replace: false }, None, "2", "t4"), 5);
        assert!(matches!(refused, Err(Error::NameInUse { .. })));
        run(&mut kept, &attempt(Kind::Install { replace: true }, None, "2.0.0", "t4"), 5);
        assert_eq!(
            summary(&kept)[1..],
            [(2, "superseded", "superseded by new release".into()), (3, "deployed", "Install complete".into())]
        );
        assert_eq!(kept[2].first_deployed, "t4");
        let w = run(&mut h, &attempt(Kind::Uninstall { keep_history: false }, None, "", "t3"), 5);
        assert_eq!(w.delete, ["sh.helm.release.v1.podinfo.v1", "sh.helm.release.v1.podinfo.v2"]);
        assert!(h.is_empty());
        let mut stuck = kept.clone();
        run(&mut stuck, &attempt(Kind::Uninstall { keep_history: false }, fail(Stage::Apply, "x"), "", "t5"), 5);
        assert_eq!(summary(&stuck)[2], (3, "uninstalling", "Deletion in progress (or silently failed)".into()));
    }

    #[test]
    fn max_history_prunes_the_oldest_but_never_the_last_deployed() {
        let mut h = Vec::new();
        run(&mut h, &attempt(Kind::Install { replace: false }, None, "1", "t1"), 3);
        for i in 2..=4 {
            run(&mut h, &attempt(Kind::Upgrade, None, &i.to_string(), "t"), 3);
        }
        assert_eq!(h.iter().map(|r| r.version).collect::<Vec<_>>(), [2, 3, 4]);
        // Failed upgrades pile up: the deployed revision 4 stays, older failures go.
        for i in 5..=8 {
            let w = run(&mut h, &attempt(Kind::Upgrade, fail(Stage::Wait, "x"), &i.to_string(), "t"), 3);
            assert!(w.delete.iter().all(|d| !d.ends_with(".v4")), "{:?}", w.delete);
        }
        assert_eq!(
            h.iter().map(|r| (r.version, r.status)).collect::<Vec<_>>(),
            [(4, Status::Deployed), (7, Status::Failed), (8, Status::Failed)]
        );
        // 0 keeps everything.
        let w = record(&h, "podinfo", "apps", &attempt(Kind::Upgrade, None, "9", "t"), 0).unwrap();
        assert!(w.delete.is_empty());
        // 1 keeps only the new revision and the deployed one.
        let w = record(&h, "podinfo", "apps", &attempt(Kind::Upgrade, None, "9", "t"), 1).unwrap();
        assert_eq!(w.delete, ["sh.helm.release.v1.podinfo.v7", "sh.helm.release.v1.podinfo.v8"]);
    }
}
