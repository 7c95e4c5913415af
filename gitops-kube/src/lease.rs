//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it
//! with a `LeaseLock` (`tools/leaderelection/leaderelection.go`, `resourcelock/leaselock.go`), so
//! that a hub controller run as several replicas has one of them deploying at a time, and shares
//! a Lease with Go controllers that follow the same rules.
//!
//! The Lease's spec is the election record:
//! - `holderIdentity`: who leads (empty: nobody, anyone may take it at once);
//! - `leaseDurationSeconds`: how long after `renewTime` the holder counts as gone;
//! - `acquireTime`: when the current holder's term began; `renewTime`: its last renewal;
//! - `leaseTransitions`: how many times the lease changed hands.
//!
//! One round ([`LeaseLock::try_acquire_or_renew`]) reads the Lease, decides ([`decide`], a pure
//! function of the Lease and the time) and writes: a create when there is no Lease, else a
//! replace carrying the resourceVersion read. The API server refuses a replace whose version is
//! stale (409), so of two candidates writing in one round exactly one wins; the other is told it
//! is not the leader ([`LeaderState::LostRace`]), which is no error.
//!
//! Unlike client-go, which measures expiry from the moment *it* last saw the record change (its
//! own clock only, to tolerate skew between machines), a round here is stateless and measures
//! from the Lease's `renewTime`: candidates must have roughly synchronized clocks, and a lease
//! duration well above their skew (client-go's default, 15 s, is a fine choice).
//!
//! Times are written as MicroTime: RFC 3339 in UTC with six fractional digits.

use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::core::Request;
use serde_json::{Value, json};

/// The API path of Leases in a namespace.
fn leases_path(namespace: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")
}

/// Why a round of the election could not be run. Losing the election is not an error.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The lease duration is below one second; `leaseDurationSeconds` counts whole seconds.
    #[error(
        "lease {lease}: a lease duration of {millis} ms is below one second; give at least 1 s (client-go uses 15 s)"
    )]
    DurationTooShort {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The duration given, in milliseconds.
        millis: u128,
    },
    /// The identity is empty: an empty `holderIdentity` means "nobody holds the lease".
    #[error("lease {lease}: the candidate identity is empty; give each replica a unique identity (e.g. its Pod name)")]
    EmptyIdentity {
        /// `namespace/name` of the Lease.
        lease: String,
    },
    /// A field of the stored Lease does not read (another writer put something odd there).
    #[error("lease {lease}: {field} {problem}; fix or delete the Lease so that candidates can use it again")]
    Malformed {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The field, e.g. `spec.renewTime`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The API server refused a request (other than the 409 of a lost race).
    #[error("lease {lease}: {action} refused: {message} ({code} {reason}){hint}")]
    Refused {
        /// `namespace/name` of the Lease.
        lease: String,
        /// `read`, `create` or `update`.
        action: &'static str,
        /// The server's message.
        message: String,
        /// The HTTP status code.
        code: u16,
        /// The status reason.
        reason: String,
        /// What to do about it, when known.
        hint: &'static str,
    },
    /// The API server could not be reached or answered something unreadable.
    #[error("lease {lease}: {action} failed: {message}")]
    Transport {
        /// `namespace/name` of the Lease.
        lease: String,
        /// `read`, `create` or `update`.
        action: &'static str,
        /// The client's error.
        message: String,
    },
}

/// What a round of the election found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderState {
    /// This candidate leads until `expires` unless it renews before then.
    Leading {
        /// Whether this round began the term (created the Lease or took it over), rather than
        /// renewing a term already held.
        acquired: bool,
        /// `leaseTransitions` as written.
        transitions: i32,
        /// `renewTime + leaseDurationSeconds` as written.
        expires: SystemTime,
    },
    /// Another candidate leads; it may be taken over at `expires` if not renewed by then.
    Following {
        /// `holderIdentity` of the Lease.
        holder: String,
        /// `renewTime + leaseDurationSeconds` of the Lease.
        expires: SystemTime,
    },
    /// Another candidate wrote the Lease between this round's read and its write (409 Conflict):
    /// it won this round. Try again at the next round.
    LostRace,
}

impl LeaderState {
    /// Whether this candidate leads.
    pub fn is_leader(&self) -> bool {
        matches!(self, LeaderState::Leading { .. })
    }
}

/// The election record of a Lease's spec, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `holderIdentity` (empty: nobody).
    pub holder: String,
    /// `leaseDurationSeconds` (0 when absent).
    pub lease_duration_seconds: i64,
    /// `acquireTime`.
    pub acquire_time: Option<SystemTime>,
    /// `renewTime`.
    pub renew_time: Option<SystemTime>,
    /// `leaseTransitions` (0 when absent).
    pub transitions: i32,
}

impl Record {
    /// Reads the record from a Lease object (`lease` names it in errors).
    pub fn from_lease(lease: &Value, name: &str) -> Result<Record, LeaseError> {
        let spec = lease.get("spec").unwrap_or(&Value::Null);
        let malformed = |field, problem: &str| LeaseError::Malformed {
            lease: name.to_string(),
            field,
            problem: problem.to_string(),
        };
        let text = |key: &str, field| match spec.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(malformed(field, "is not a string")),
        };
        let number = |key: &str, field| match spec.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v.as_i64().ok_or_else(|| malformed(field, "is not an integer")),
        };
        let time = |key: &str, field| -> Result<Option<SystemTime>, LeaseError> {
            match text(key, field)? {
                None => Ok(None),
                Some(s) => parse_micro_time(&s).map(Some).ok_or_else(|| malformed(field, "is not an RFC 3339 time")),
            }
        };
        Ok(Record {
            holder: text("holderIdentity", "spec.holderIdentity")?.unwrap_or_default(),
            lease_duration_seconds: number("leaseDurationSeconds", "spec.leaseDurationSeconds")?,
            acquire_time: time("acquireTime", "spec.acquireTime")?,
            renew_time: time("renewTime", "spec.renewTime")?,
            transitions: i32::try_from(number("leaseTransitions", "spec.leaseTransitions")?)
                .map_err(|_| malformed("spec.leaseTransitions", "is out of range"))?,
        })
    }

    /// When the holder counts as gone: `renewTime + leaseDurationSeconds`. A record never
    /// renewed has expired: nothing shows its holder alive.
    pub fn expires(&self) -> SystemTime {
        let seconds = u64::try_from(self.lease_duration_seconds).unwrap_or(0);
        self.renew_time.map_or(SystemTime::UNIX_EPOCH, |t| t + Duration::from_secs(seconds))
    }

    /// The Lease spec that holds this record, as client-go's `LeaderElectionRecordToLeaseSpec`
    /// writes it (every field present, times as MicroTime).
    pub fn to_spec(&self) -> Value {
        let time = |t: Option<SystemTime>| t.map(format_micro_time);
        json!({
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": time(self.acquire_time),
            "renewTime": time(self.renew_time),
            "leaseTransitions": self.transitions,
        })
    }
}

/// What a candidate should do with a Lease, decided by [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// There is no Lease: create it with this record (a new term).
    Create(Record),
    /// Write this record over the one read: a renewal (`acquired: false`) or a take-over of an
    /// expired or released lease (`acquired: true`, `leaseTransitions` incremented).
    Update {
        /// The record to write.
        record: Record,
        /// Whether the write begins a new term.
        acquired: bool,
    },
    /// Another candidate holds an unexpired lease: write nothing.
    Wait {
        /// The current holder.
        holder: String,
        /// When its lease expires unless renewed.
        expires: SystemTime,
    },
}

/// client-go's `tryAcquireOrRenew`, decided on data: the Lease read (`None`: absent), this
/// candidate's identity and lease duration, and the time now.
///
/// - no Lease: create it, holding it from now;
/// - held by us: renew (`renewTime` now, `acquireTime` and `leaseTransitions` kept);
/// - held by another, not expired: wait, told who holds it and until when;
/// - released (empty holder) or expired: take over (`acquireTime` now, `leaseTransitions` + 1).
pub fn decide(current: Option<&Record>, identity: &str, lease_duration: Duration, now: SystemTime) -> Decision {
    let seconds = i64::try_from(lease_duration.as_secs()).unwrap_or(i64::MAX);
    let mut record = Record {
        holder: identity.to_string(),
        lease_duration_seconds: seconds,
        acquire_time: Some(now),
        renew_time: Some(now),
        transitions: 0,
    };
    let Some(current) = current else { return Decision::Create(record) };
    if current.holder == identity {
        // A renewal keeps the term's start and count; a record missing its start gets one.
        record.acquire_time = current.acquire_time.or(Some(now));
        record.transitions = current.transitions;
        return Decision::Update { record, acquired: false };
    }
    let expires = current.expires();
    if !current.holder.is_empty() && expires > now {
        return Decision::Wait { holder: current.holder.clone(), expires };
    }
    record.transitions = current.transitions.saturating_add(1);
    Decision::Update { record, acquired: true }
}

/// The record client-go's `release` writes to give up a lease we hold (ReleaseOnCancel): no
/// holder, a one-second duration, the term's count kept, so that another candidate takes over
/// at its next round instead of waiting out our lease. `None` when we do not hold it.
pub fn release_record(current: &Record, identity: &str, now: SystemTime) -> Option<Record> {
    (current.holder == identity).then(|| Record {
        holder: String::new(),
        lease_duration_seconds: 1,
        acquire_time: Some(now),
        renew_time: Some(now),
        transitions: current.transitions,
    })
}

/// A time as a Kubernetes MicroTime: `2006-01-02T15:04:05.000000Z`.
pub fn format_micro_time(t: SystemTime) -> String {
    // A SystemTime out of jiff's range (beyond year 9999) cannot occur for "now".
    let ts = Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Reads an RFC 3339 time (MicroTime, or Time without fractions).
pub fn parse_micro_time(text: &str) -> Option<SystemTime> {
    text.parse::<Timestamp>().ok().map(SystemTime::from)
}

/// A Lease lock: one candidate (`identity`) for the leadership `namespace/name` stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLock {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity, unique among candidates (client-go uses the Pod name, or the
    /// host name and a UUID).
    pub identity: String,
    /// How long the lease lasts after each renewal (whole seconds, at least one). Renew well
    /// within it: client-go renews every 2 s and gives up after 10 s of a 15 s lease.
    pub lease_duration: Duration,
}

impl LeaseLock {
    /// A candidate `identity` for the Lease `namespace/name`.
    pub fn new(namespace: &str, name: &str, identity: &str, lease_duration: Duration) -> LeaseLock {
        LeaseLock {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration,
        }
    }

    /// `namespace/name`, as errors name the Lease.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// One round of the election: creates the Lease when absent, renews it when we hold it,
    /// takes it over when it expired or was released; otherwise reports who holds it and until
    /// when. A write that loses to another candidate's (409) is [`LeaderState::LostRace`].
    pub async fn try_acquire_or_renew(&self, client: &kube::Client) -> Result<LeaderState, LeaseError> {
        if self.lease_duration < Duration::from_secs(1) {
            return Err(LeaseError::DurationTooShort {
                lease: self.describe(),
                millis: self.lease_duration.as_millis(),
            });
        }
        if self.identity.is_empty() {
            return Err(LeaseError::EmptyIdentity { lease: self.describe() });
        }
        let read = self.read(client).await?;
        let current = read.as_ref().map(|lease| Record::from_lease(lease, &self.describe())).transpose()?;
        let (record, acquired) = match decide(current.as_ref(), &self.identity, self.lease_duration, SystemTime::now())
        {
            Decision::Wait { holder, expires } => return Ok(LeaderState::Following { holder, expires }),
            Decision::Create(record) => {
                if !self.create(client, &record).await? {
                    return Ok(LeaderState::LostRace);
                }
                (record, true)
            }
            Decision::Update { record, acquired } => {
                let lease = read.unwrap_or_default();
                if !self.update(client, lease, &record).await? {
                    return Ok(LeaderState::LostRace);
                }
                (record, acquired)
            }
        };
        Ok(LeaderState::Leading { acquired, transitions: record.transitions, expires: record.expires() })
    }

    /// Gives up the lease if we hold it (client-go's ReleaseOnCancel), so that another candidate
    /// takes over at once. `true` when released; `false` when we did not hold it, or lost a race
    /// to another writer (who then holds or changed it).
    pub async fn release(&self, client: &kube::Client) -> Result<bool, LeaseError> {
        let Some(lease) = self.read(client).await? else { return Ok(false) };
        let current = Record::from_lease(&lease, &self.describe())?;
        match release_record(&current, &self.identity, SystemTime::now()) {
            Some(record) => self.update(client, lease, &record).await,
            None => Ok(false),
        }
    }

    async fn read(&self, client: &kube::Client) -> Result<Option<Value>, LeaseError> {
        let req = Request::new(leases_path(&self.namespace))
            .get(&self.name, &Default::default())
            .map_err(|e| self.transport("read", &e))?;
        match client.request::<Value>(req).await {
            Ok(v) => Ok(Some(v)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(self.failed("read", e)),
        }
    }

    /// Creates the Lease; `false` when another candidate created it first.
    async fn create(&self, client: &kube::Client, record: &Record) -> Result<bool, LeaseError> {
        let body = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_spec(),
        });
        let req = Request::new(leases_path(&self.namespace))
            .create(&PostParams::default(), body.to_string().into_bytes())
            .map_err(|e| self.transport("create", &e))?;
        match client.request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.failed("create", e)),
        }
    }

    /// Replaces the spec of the Lease read (its resourceVersion kept, so a Lease changed since
    /// is not overwritten); `false` when it was changed since (409).
    async fn update(&self, client: &kube::Client, mut lease: Value, record: &Record) -> Result<bool, LeaseError> {
        if let Value::Object(map) = &mut lease {
            // client-go's LeaseLock replaces the whole spec with the record.
            map.insert("spec".into(), record.to_spec());
        }
        let req = Request::new(leases_path(&self.namespace))
            .replace(&self.name, &PostParams::default(), lease.to_string().into_bytes())
            .map_err(|e| self.transport("update", &e))?;
        match client.request::<Value>(req).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.failed("update", e)),
        }
    }

    fn transport(&self, action: &'static str, e: &dyn std::fmt::Display) -> LeaseError {
        LeaseError::Transport { lease: self.describe(), action, message: e.to_string() }
    }

    fn failed(&self, action: &'static str, e: kube::Error) -> LeaseError {
        match e {
            kube::Error::Api(s) => LeaseError::Refused {
                lease: self.describe(),
                action,
                hint: match s.code {
                    403 => "; the account needs get, create and update on leases.coordination.k8s.io in this namespace",
                    404 => "; does the namespace exist?",
                    _ => "",
                },
                message: s.message,
                code: s.code,
                reason: s.reason,
            },
            other => self.transport(action, &crate::kube_cluster::causes(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn held(holder: &str, renewed: u64, duration: i64, transitions: i32) -> Record {
        Record {
            holder: holder.into(),
            lease_duration_seconds: duration,
            acquire_time: Some(at(0)),
            renew_time: Some(at(renewed)),
            transitions,
        }
    }

    #[test]
    fn no_lease_is_created_and_held_from_now() {
        let Decision::Create(r) = decide(None, "a", 15 * SECOND, at(5)) else { panic!() };
        assert_eq!(
            r,
            Record {
                holder: "a".into(),
                lease_duration_seconds: 15,
                acquire_time: Some(at(5)),
                renew_time: Some(at(5)),
                transitions: 0
            }
        );
        assert_eq!(r.expires(), at(20));
    }

    #[test]
    fn the_holder_renews_keeping_its_term() {
        let current = held("a", 3, 15, 4);
        let d = decide(Some(&current), "a", 15 * SECOND, at(10));
        let Decision::Update { record, acquired: false } = d else { panic!("{d:?}") };
        assert_eq!((record.acquire_time, record.renew_time, record.transitions), (Some(at(0)), Some(at(10)), 4));
        // Even past expiry: nobody took it, so it is still ours.
        let d = decide(Some(&current), "a", 15 * SECOND, at(100));
        assert!(matches!(d, Decision::Update { acquired: false, .. }), "{d:?}");
    }

    #[test]
    fn another_holder_is_waited_for_until_expiry_then_taken_over() {
        let current = held("a", 3, 15, 4);
        assert_eq!(
            decide(Some(&current), "b", 15 * SECOND, at(10)),
            Decision::Wait { holder: "a".into(), expires: at(18) }
        );
        // Expiry is strict: at renewTime + duration exactly, the lease is over.
        let d = decide(Some(&current), "b", 15 * SECOND, at(18));
        let Decision::Update { record, acquired: true } = d else { panic!("{d:?}") };
        assert_eq!(record.holder, "b");
        assert_eq!((record.acquire_time, record.renew_time, record.transitions), (Some(at(18)), Some(at(18)), 5));
        assert_eq!(record.lease_duration_seconds, 15);
    }

    #[test]
    fn released_or_never_renewed_leases_are_taken_at_once() {
        let released = release_record(&held("a", 3, 15, 2), "a", at(4)).expect("a holds it");
        assert_eq!((released.holder.as_str(), released.lease_duration_seconds, released.transitions), ("", 1, 2));
        let d = decide(Some(&released), "b", 15 * SECOND, at(4));
        assert!(matches!(d, Decision::Update { acquired: true, ref record } if record.transitions == 3), "{d:?}");
        let never = Record { renew_time: None, ..held("a", 0, 15, 0) };
        assert!(matches!(decide(Some(&never), "b", 15 * SECOND, at(1)), Decision::Update { acquired: true, .. }));
        assert_eq!(release_record(&held("a", 3, 15, 2), "b", at(4)), None);
    }

    #[test]
    fn records_read_and_write_as_client_go_does() {
        let lease = json!({"spec": {
            "holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 2,
            "acquireTime": "2023-11-14T22:13:20.000000Z", "renewTime": "2023-11-14T22:13:23.250000Z"}});
        let r = Record::from_lease(&lease, "ns/l").unwrap();
        assert_eq!(r.acquire_time, Some(at(0)));
        assert_eq!(r.renew_time, Some(at(3) + Duration::from_millis(250)));
        assert_eq!(r.to_spec(), lease["spec"]);
        assert_eq!(format_micro_time(at(0) + Duration::from_nanos(1_234_567)), "2023-11-14T22:13:20.001234Z");
        // A Lease with an empty spec (created by hand) is free.
        let empty = Record::from_lease(&json!({"spec": {}}), "ns/l").unwrap();
        assert!(matches!(decide(Some(&empty), "b", SECOND, at(0)), Decision::Update { acquired: true, .. }));
        let e = Record::from_lease(&json!({"spec": {"renewTime": "yesterday"}}), "ns/l").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lease ns/l: spec.renewTime is not an RFC 3339 time; fix or delete the Lease so that candidates can use it again"
        );
    }
}
