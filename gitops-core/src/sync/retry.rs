//! `syncPolicy.retry`: how often and how late Argo CD retries a failed sync.
//!
//! The wait before retry `n` (counting from 0) is `min(maxDuration, duration·factorⁿ)`. Only the
//! arithmetic lives here; the controller that sleeps and restarts the operation is elsewhere.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Argo CD's `DefaultSyncRetryDuration`.
const DEFAULT_DURATION: Duration = Duration::from_secs(5);
/// Argo CD's `DefaultSyncRetryFactor`.
const DEFAULT_FACTOR: i64 = 2;
/// Argo CD's `DefaultSyncRetryMaxDuration`.
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(180);
/// Go's largest `time.Duration`: the ceiling when `maxDuration` is zero (uncapped), so a huge
/// retry count means "in about 292 years" rather than an overflow.
const GO_MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// A `syncPolicy.retry` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syncPolicy.retry.{field}: {value} is not {expected}")]
pub struct Error {
    /// The field, e.g. `backoff.duration`.
    pub field: &'static str,
    /// The value as written (JSON).
    pub value: String,
    /// What was expected instead.
    pub expected: &'static str,
}

/// The growth of the wait between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub duration: Duration,
    /// What each further wait is multiplied by (values below 1 act as 1).
    pub factor: i64,
    /// The longest wait; zero means uncapped, as in Argo CD.
    pub max_duration: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { duration: DEFAULT_DURATION, factor: DEFAULT_FACTOR, max_duration: DEFAULT_MAX_DURATION }
    }
}

/// `syncPolicy.retry`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryStrategy {
    /// How many retries: 0 none (the default when unset), negative unlimited.
    pub limit: i64,
    /// The wait between them.
    pub backoff: Backoff,
    /// `refresh`: retry with the latest revision instead of the one the sync pinned.
    pub refresh: bool,
}

impl RetryStrategy {
    /// Reads the `syncPolicy.retry` object; `null` means no retry.
    ///
    /// Durations are Go duration strings (`"5s"`, `"1h30m"`) or whole seconds, as a JSON
    /// integer or a numeric string, as Argo CD accepts. A negative duration or a factor below 1
    /// is refused: Argo CD would retry at once or with shrinking waits, which nobody asks for.
    pub fn from_json(retry: &Value) -> Result<RetryStrategy, Error> {
        let mut out = RetryStrategy::default();
        let retry = match retry {
            Value::Null => return Ok(out),
            Value::Object(m) => m,
            other => return Err(invalid("", other, "an object")),
        };
        if let Some(v) = retry.get("limit").filter(|v| !v.is_null()) {
            out.limit = v.as_i64().ok_or_else(|| invalid("limit", v, "an integer"))?;
        }
        if let Some(v) = retry.get("refresh").filter(|v| !v.is_null()) {
            out.refresh = v.as_bool().ok_or_else(|| invalid("refresh", v, "a boolean"))?;
        }
        let backoff = match retry.get("backoff") {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Object(m)) => m,
            Some(other) => return Err(invalid("backoff", other, "an object")),
        };
        if let Some(v) = backoff.get("duration").filter(|v| !v.is_null()) {
            out.backoff.duration = duration(v).ok_or_else(|| invalid("backoff.duration", v, DURATION))?;
        }
        if let Some(v) = backoff.get("maxDuration").filter(|v| !v.is_null()) {
            out.backoff.max_duration = duration(v).ok_or_else(|| invalid("backoff.maxDuration", v, DURATION))?;
        }
        if let Some(v) = backoff.get("factor").filter(|v| !v.is_null()) {
            out.backoff.factor = v
                .as_i64()
                .filter(|f| *f >= 1)
                .ok_or_else(|| invalid("backoff.factor", v, "an integer of at least 1"))?;
        }
        Ok(out)
    }

    /// Whether a sync that failed after `retry_count` retries is retried again.
    pub fn should_retry(&self, retry_count: u32) -> bool {
        self.limit < 0 || i64::from(retry_count) < self.limit
    }

    /// The wait before retry number `n` (0 for the first): `min(maxDuration, duration·factorⁿ)`,
    /// saturating instead of overflowing for any `n`.
    pub fn delay(&self, n: u32) -> Duration {
        let b = &self.backoff;
        let cap = if b.max_duration.is_zero() { GO_MAX_DURATION } else { b.max_duration };
        let factor = u32::try_from(b.factor.max(1)).unwrap_or(u32::MAX);
        let mut d = b.duration;
        // Stops as soon as the cap is reached, so this runs at most ~64 times whatever `n` is.
        for _ in 0..n {
            if d >= cap || d.is_zero() || factor == 1 {
                break;
            }
            d = d.saturating_mul(factor);
        }
        d.min(cap)
    }

    /// When the retry after a sync that finished at `finished_at` starts, `retry_count` being
    /// the count *after* it was incremented for this retry (what Argo CD's controller waits on).
    pub fn next_retry_at(&self, finished_at: SystemTime, retry_count: u32) -> SystemTime {
        let d = self.delay(retry_count);
        finished_at
            .checked_add(d)
            .or_else(|| finished_at.checked_add(Duration::from_secs(u32::MAX.into())))
            .unwrap_or(finished_at)
    }
}

const DURATION: &str = "a duration (e.g. \"5s\", \"3m\", \"1h30m\", or whole seconds)";

fn invalid(field: &'static str, value: &Value, expected: &'static str) -> Error {
    Error { field, value: value.to_string(), expected }
}

fn duration(v: &Value) -> Option<Duration> {
    let nanos = match v {
        Value::Number(n) => n.as_u64().map(|s| Duration::from_secs(s).as_nanos())?,
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(secs) => u64::try_from(secs).ok().map(|s| Duration::from_secs(s).as_nanos())?,
            Err(_) => u128::try_from(crate::quantity::go_duration_nanos(s.trim())?).ok()?,
        },
        _ => return None,
    };
    Some(Duration::from_nanos(u64::try_from(nanos).ok()?))
}

/// The suffix Argo CD appends to the message of a failed sync that will be retried:
/// `". Retrying attempt #N at <time>"`, `<time>` in RFC 3339 UTC to the second
/// (`2026-08-22T14:03:05Z`): a date is needed because an uncapped backoff can reach days.
///
/// Argo CD prints the time computed with the count before the increment while it waits with the
/// count after it; pass the time actually waited for (`next_retry_at(finished_at, attempt)`) and
/// `attempt` = the incremented count, so the message tells the truth.
pub fn retrying_suffix(attempt: u32, at: SystemTime) -> String {
    format!(". Retrying attempt #{attempt} at {}", format_utc(at))
}

/// The suffix Argo CD appends to the final message of a sync that was retried:
/// `" (retried N times)."`; empty when it was never retried, as Argo CD does.
pub fn retried_suffix(retries: u32) -> String {
    if retries == 0 { String::new() } else { format!(" (retried {retries} times).") }
}

/// RFC 3339 UTC to the second.
fn format_utc(t: SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        // Before 1970: floor to the second so the time of day stays in 0..86400.
        Err(e) => {
            let d = e.duration();
            let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 { s.saturating_neg().saturating_sub(1) } else { s.saturating_neg() }
        }
    };
    crate::time::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn default_backoff_matches_argo_tested_values() {
        let r = RetryStrategy { limit: 5, ..Default::default() };
        let got: Vec<Duration> = (0..5).map(|n| r.delay(n)).collect();
        assert_eq!(got, [secs(5), secs(10), secs(20), secs(40), secs(80)]);
        assert_eq!(r.delay(5), secs(160));
        assert_eq!(r.delay(6), secs(180));
        assert_eq!(r.delay(u32::MAX), secs(180));
    }

    #[test]
    fn delay_never_overflows() {
        let huge = RetryStrategy {
            limit: -1,
            backoff: Backoff { duration: secs(u64::MAX), factor: i64::MAX, max_duration: Duration::ZERO },
            refresh: false,
        };
        assert_eq!(huge.delay(u32::MAX), GO_MAX_DURATION);
        let t = UNIX_EPOCH + secs(1_000);
        assert!(huge.next_retry_at(t, u32::MAX) > t);
        let zero =
            RetryStrategy { backoff: Backoff { duration: Duration::ZERO, ..Default::default() }, ..Default::default() };
        assert_eq!(zero.delay(u32::MAX), Duration::ZERO);
        let flat = RetryStrategy { backoff: Backoff { factor: -3, ..Default::default() }, ..Default::default() };
        assert_eq!(flat.delay(7), secs(5));
    }

    #[test]
    fn next_retry_at_adds_the_delay() {
        let r = RetryStrategy::default();
        let t = UNIX_EPOCH + secs(1_000);
        assert_eq!(r.next_retry_at(t, 0), t + secs(5));
        assert_eq!(r.next_retry_at(t, 3), t + secs(40));
        assert_eq!(r.next_retry_at(t, 100), t + secs(180));
    }

    #[test]
    fn limits() {
        let r = |limit| RetryStrategy { limit, ..Default::default() };
        assert!(!r(0).should_retry(0));
        assert!(r(2).should_retry(0) && r(2).should_retry(1) && !r(2).should_retry(2));
        assert!(r(-1).should_retry(u32::MAX));
    }

    #[test]
    fn parses_every_duration_form() {
        let r = RetryStrategy::from_json(&json!({
            "limit": 3, "refresh": true,
            "backoff": {"duration": "1h30m", "factor": 3, "maxDuration": 600}
        }))
        .unwrap();
        assert_eq!(r.limit, 3);
        assert!(r.refresh);
        assert_eq!(r.backoff, Backoff { duration: secs(5400), factor: 3, max_duration: secs(600) });
        let d = |v: Value| RetryStrategy::from_json(&json!({"backoff": {"duration": v}})).unwrap().backoff.duration;
        assert_eq!(d(json!("5s")), secs(5));
        assert_eq!(d(json!("3m")), secs(180));
        assert_eq!(d(json!("500ms")), Duration::from_millis(500));
        assert_eq!(d(json!("1.5s")), Duration::from_millis(1500));
        assert_eq!(d(json!("30")), secs(30));
        assert_eq!(d(json!(30)), secs(30));
        assert_eq!(d(json!("0")), Duration::ZERO);
    }

    #[test]
    fn absent_fields_keep_argo_defaults() {
        assert_eq!(RetryStrategy::from_json(&Value::Null).unwrap(), RetryStrategy::default());
        let r = RetryStrategy::from_json(&json!({"limit": -1, "backoff": {"factor": 4}})).unwrap();
        assert_eq!(r.limit, -1);
        assert_eq!(r.backoff, Backoff { factor: 4, ..Backoff::default() });
        assert_eq!(RetryStrategy::from_json(&json!({"limit": 2})).unwrap().backoff, Backoff::default());
    }

    #[test]
    fn errors_name_field_and_value() {
        let err = |v: Value| RetryStrategy::from_json(&v).unwrap_err();
        let e = err(json!({"backoff": {"duration": "5 parsecs"}}));
        assert_eq!(e.field, "backoff.duration");
        assert!(e.to_string().contains("syncPolicy.retry.backoff.duration: \"5 parsecs\""), "{e}");
        assert_eq!(err(json!({"backoff": {"maxDuration": "-3m"}})).field, "backoff.maxDuration");
        assert_eq!(err(json!({"backoff": {"duration": -5}})).field, "backoff.duration");
        assert_eq!(err(json!({"backoff": {"duration": 1.5}})).field, "backoff.duration");
        assert_eq!(err(json!({"backoff": {"factor": 0}})).field, "backoff.factor");
        assert_eq!(err(json!({"backoff": {"factor": "2"}})).field, "backoff.factor");
        assert_eq!(err(json!({"limit": "5"})).field, "limit");
        assert_eq!(err(json!({"backoff": "5s"})).field, "backoff");
        assert_eq!(err(json!([1])).value, "[1]");
    }

    #[test]
    fn message_suffixes() {
        let at = UNIX_EPOCH + secs(1_787_407_385);
        assert_eq!(retrying_suffix(2, at), ". Retrying attempt #2 at 2026-08-22T14:03:05Z");
        assert_eq!(retried_suffix(3), " (retried 3 times).");
        assert_eq!(retried_suffix(0), "");
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(UNIX_EPOCH - Duration::from_millis(1)), "1969-12-31T23:59:59Z");
        assert_eq!(format_utc(UNIX_EPOCH + secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
