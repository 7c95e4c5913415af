//! Cron schedules as Argo CD reads a sync window's `schedule`: five fields (minute, hour, day of
//! month, month, day of week) in robfig/cron's standard syntax, without seconds or `@` forms.
//!
//! Each field is `*`, `?` (the same as `*`), a value, a range `a-b`, a step `x/n` (from `x` to
//! the field's end; `*/n` over the whole field), or a comma list of those. Months and days may
//! be written as names (`JAN`, `MON`, case-blind); Sunday is 0 or 7. As in robfig/cron, when
//! both day fields are restricted a day matches if either does; when one is `*` (or `?`,
//! without a step) both must match.

/// What is wrong with a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {schedule:?}: {message}")]
pub struct Error {
    /// The schedule as written.
    pub schedule: String,
    /// What is wrong, naming the field.
    pub message: String,
}

/// A parsed schedule: which minutes, hours, days, months and weekdays fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// The day-of-month or day-of-week field was `*` or `?` (robfig's star bit).
    any_day: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: Field = Field { name: "hour", min: 0, max: 23, names: &[] };
const DAY: Field = Field { name: "day of month", min: 1, max: 31, names: &[] };
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const WEEKDAY: Field =
    Field { name: "day of week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

impl Schedule {
    /// Parses a five-field schedule.
    pub fn parse(schedule: &str) -> Result<Schedule, Error> {
        let err = |message: String| Error { schedule: schedule.to_string(), message };
        let fields: Vec<&str> = schedule.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        }
        let (minutes, _) = bits(fields[0], &MINUTE).map_err(err)?;
        let (hours, _) = bits(fields[1], &HOUR).map_err(err)?;
        let (days, day_star) = bits(fields[2], &DAY).map_err(err)?;
        let (months, _) = bits(fields[3], &MONTH).map_err(err)?;
        let (mut weekdays, weekday_star) = bits(fields[4], &WEEKDAY).map_err(err)?;
        // Sunday is 0 or 7.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule { minutes, hours, days, months, weekdays, any_day: day_star || weekday_star })
    }

    /// Whether the schedule fires at this minute of the civil calendar (`weekday`: 0 = Sunday).
    pub fn fires_on(&self, month: u32, day: u32, weekday: u32, hour: u32, minute: u32) -> bool {
        self.fires(month, day, weekday, hour, minute, false) && self.fires(month, day, weekday, hour, minute, true)
    }

    /// The day part (`time == false`: month and days) or the time part (hour and minute).
    fn fires(&self, month: u32, day: u32, weekday: u32, hour: u32, minute: u32, time: bool) -> bool {
        let has = |set: u64, v: u32| v < 64 && set & (1 << v) != 0;
        if time {
            return has(self.minutes, minute) && has(self.hours, hour);
        }
        if !has(self.months, month) {
            return false;
        }
        let (d, w) = (has(self.days, day), has(self.weekdays, weekday));
        if self.any_day { d && w } else { d || w }
    }

    /// Whether it fires at the minute starting `minute` minutes after the Unix epoch, read as a
    /// civil time (the caller has shifted it into the schedule's time zone).
    pub fn fires_at_minute(&self, minute: i64) -> bool {
        let of_day = minute.rem_euclid(1440);
        self.fires_on_day(minute.div_euclid(1440))
            && self.fires(1, 1, 0, (of_day / 60) as u32, (of_day % 60) as u32, true)
    }

    /// The first minute in `from..=to` (minutes after the Unix epoch, civil) at which it fires.
    /// Days and hours that cannot fire are skipped whole, so a year is a few hundred steps.
    pub fn first_between(&self, from: i64, to: i64) -> Option<i64> {
        let has = |set: u64, v: i64| (0..64).contains(&v) && set & (1 << v) != 0;
        let mut m = from;
        while m <= to {
            let day = m.div_euclid(1440);
            if !self.fires_on_day(day) {
                m = (day + 1) * 1440;
                continue;
            }
            let of_day = m.rem_euclid(1440);
            if !has(self.hours, of_day / 60) {
                m = day * 1440 + (of_day / 60 + 1) * 60;
                continue;
            }
            if has(self.minutes, of_day % 60) {
                return Some(m);
            }
            m += 1;
        }
        None
    }

    fn fires_on_day(&self, days: i64) -> bool {
        let (_, month, day) = crate::time::civil_from_days(days);
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7);
        self.fires(month as u32, day as u32, weekday as u32, 0, 0, false)
    }
}

/// The set of values one field allows, and whether it was written as `*` or `?` alone.
fn bits(text: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut set = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{}: step {step:?} is not a positive number", field.name))?;
                (range, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            // robfig/cron keeps the star bit only without a step above 1.
            star |= step.is_none_or(|s| s == 1);
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, field)?, value(b, field)?)
        } else {
            let v = value(range, field)?;
            // `N/step` runs from N to the end of the field.
            (v, if step.is_some() { field.max } else { v })
        };
        if lo > hi {
            return Err(format!("{}: range {range:?} runs backwards", field.name));
        }
        let step = step.unwrap_or(1) as usize;
        for v in (lo..=hi).step_by(step) {
            set |= 1 << v;
        }
    }
    Ok((set, star))
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = field.names.iter().position(|n| *n == lower).map(|i| i as u32 + if field.min == 1 { 1 } else { 0 });
    let v = named.or_else(|| text.parse().ok()).ok_or_else(|| format!("{}: {text:?} is not a value", field.name))?;
    if v < field.min || v > field.max {
        return Err(format!("{}: {v} is out of range {}-{}", field.name, field.min, field.max));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_as_robfig_cron_reads_them() {
        let s = Schedule::parse("0 22 * * *").unwrap();
        assert!(s.fires_on(1, 1, 3, 22, 0));
        assert!(!s.fires_on(1, 1, 3, 22, 1));
        let friday = Schedule::parse("0 17 * * FRI").unwrap();
        assert!(friday.fires_on(6, 5, 5, 17, 0) && !friday.fires_on(6, 4, 4, 17, 0));
        let weekdays = Schedule::parse("*/15 9-17 ? jan-mar 1-5").unwrap();
        assert!(weekdays.fires_on(2, 10, 2, 9, 45) && !weekdays.fires_on(2, 10, 2, 9, 40));
        assert!(!weekdays.fires_on(4, 10, 2, 9, 45), "April is out");
        let sunday = Schedule::parse("0 0 * * 7").unwrap();
        assert!(sunday.fires_on(1, 4, 0, 0, 0));
        // Both day fields restricted: either matches.
        let either = Schedule::parse("0 0 1 * MON").unwrap();
        assert!(either.fires_on(3, 1, 3, 0, 0) && either.fires_on(3, 2, 1, 0, 0) && !either.fires_on(3, 2, 2, 0, 0));
        // `*/2` restricts the day of month: a weekday alone no longer matches.
        let stepped = Schedule::parse("0 0 */2 * MON").unwrap();
        assert!(stepped.fires_on(3, 3, 4, 0, 0) && stepped.fires_on(3, 2, 1, 0, 0));
        let from = Schedule::parse("30/10 * * * *").unwrap();
        assert!(from.fires_on(1, 1, 1, 0, 50) && !from.fires_on(1, 1, 1, 0, 20));
        // 2026-12-07 is a Monday; minute 0 of that day.
        let monday = 20_794 * 1440;
        assert!(Schedule::parse("0 0 7 12 1").unwrap().fires_at_minute(monday));
        let nightly = Schedule::parse("30 22 * * *").unwrap();
        assert_eq!(nightly.first_between(monday, monday + 2 * 1440), Some(monday + 22 * 60 + 30));
        assert_eq!(nightly.first_between(monday + 22 * 60 + 31, monday + 1440), None);
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert!(leap.first_between(monday, monday + 4 * 366 * 1440).is_some_and(|m| leap.fires_at_minute(m)));
    }

    #[test]
    fn bad_schedules_name_the_field() {
        for (bad, says) in [
            ("0 22 * *", "exactly 5 fields"),
            ("60 * * * *", "minute: 60 is out of range 0-59"),
            ("0 24 * * *", "hour: 24"),
            ("0 0 0 * *", "day of month: 0"),
            ("0 0 * 13 *", "month: 13"),
            ("0 0 * * 8", "day of week: 8"),
            ("0 0 * * funday", "day of week: \"funday\" is not a value"),
            ("*/0 * * * *", "step \"0\""),
            ("5-1 * * * *", "runs backwards"),
            ("@daily", "exactly 5 fields"),
        ] {
            let e = Schedule::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
