//! Objects, the global resourceVersion counter, the event history watches read, and the controllers' queue.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::apply::Managed;

/// Storage key: one store per group/kind, shared by all its served versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn of(obj: &Value) -> Key {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Key {
            group: group.to_string(),
            kind: obj["kind"].as_str().unwrap_or_default().to_string(),
            namespace: obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
            name: obj["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// A stored object: `obj` is exactly what a GET returns (managedFields rendered from `managed`).
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub obj: Value,
    pub managed: Vec<Managed>,
}

/// One change, kept so that watches can resume from a resourceVersion.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub rv: u64,
    pub kind: &'static str,
    pub key: Key,
    pub object: Value,
    /// The object before the change, so selector-filtered watches can turn a change into ADDED/DELETED.
    pub previous: Option<Value>,
}

/// All server state; lives behind one mutex.
#[derive(Debug)]
pub(crate) struct Store {
    pub objects: BTreeMap<Key, Stored>,
    pub rv: u64,
    history: VecDeque<Event>,
    history_limit: usize,
    /// Events up to and including this resourceVersion are no longer kept.
    pub compacted: u64,
    uid_seed: u64,
    uid_seq: u64,
    pub delay: Duration,
    /// Objects a controller should look at, and when.
    pub reconcile_due: BTreeMap<Key, Instant>,
    pub gc_due: Option<Instant>,
}

impl Store {
    pub fn new(delay: Duration, history_limit: usize) -> Store {
        let uid_seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            uid_seed,
            uid_seq: 0,
            delay,
            reconcile_due: BTreeMap::new(),
            gc_due: None,
        }
    }

    pub fn uid(&mut self) -> String {
        self.uid_seq += 1;
        let a = self.uid_seed ^ self.uid_seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            a & 0xfff,
            (self.uid_seq >> 48) & 0xfff,
            self.uid_seq & 0xffff_ffff_ffff
        )
    }

    pub fn get(&self, key: &Key) -> Option<&Stored> {
        self.objects.get(key)
    }

    /// Objects of one group/kind, ordered by namespace then name.
    pub fn list_kind<'a>(&'a self, group: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Stored> + 'a {
        let start = Key { group: group.into(), kind: kind.into(), namespace: String::new(), name: String::new() };
        self.objects.range(start..).take_while(move |(k, _)| k.group == group && k.kind == kind).map(|(_, s)| s)
    }

    pub fn namespace(&self, name: &str) -> Option<&Stored> {
        self.objects.get(&Key {
            group: String::new(),
            kind: "Namespace".into(),
            namespace: String::new(),
            name: name.into(),
        })
    }

    /// Stores a new version of an object under a fresh resourceVersion and records the event.
    pub fn put(&mut self, key: Key, mut stored: Stored, schedule: bool) -> Value {
        self.rv += 1;
        stored.obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let previous = self.objects.get(&key).map(|s| s.obj.clone());
        let kind = if previous.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(kind, key.clone(), stored.obj.clone(), previous);
        if schedule {
            self.reconcile_due.insert(key.clone(), Instant::now() + self.delay);
        }
        self.schedule_gc();
        let obj = stored.obj.clone();
        self.objects.insert(key, stored);
        obj
    }

    /// Removes an object under a fresh resourceVersion; the DELETED event carries that resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut stored = self.objects.remove(key)?;
        self.rv += 1;
        let previous = stored.obj.clone();
        stored.obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record("DELETED", key.clone(), stored.obj.clone(), Some(previous));
        self.reconcile_due.remove(key);
        self.schedule_gc();
        Some(stored.obj)
    }

    fn record(&mut self, kind: &'static str, key: Key, object: Value, previous: Option<Value>) {
        self.history.push_back(Event { rv: self.rv, kind, key, object, previous });
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    pub fn schedule_gc(&mut self) {
        if self.gc_due.is_none() {
            self.gc_due = Some(Instant::now() + self.delay);
        }
    }

    /// Events newer than `rv`.
    pub fn events_after(&self, rv: u64) -> impl Iterator<Item = &Event> {
        let start = self.history.partition_point(|e| e.rv <= rv);
        self.history.range(start..)
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.reconcile_due.values().copied().chain(self.gc_due).min()
    }
}

/// Now, as RFC 3339 UTC with second precision like Kubernetes timestamps.
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil algorithm, to avoid a date crate for one timestamp format.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn history_compacts() {
        let mut s = Store::new(Duration::ZERO, 2);
        for name in ["a", "b", "c"] {
            let key = Key { group: String::new(), kind: "ConfigMap".into(), namespace: "d".into(), name: name.into() };
            s.put(key, Stored { obj: json!({"metadata": {}}), managed: vec![] }, false);
        }
        assert_eq!(s.compacted, 2);
        assert_eq!(s.events_after(2).count(), 2);
        assert_eq!(s.events_after(3).count(), 1);
    }
}
