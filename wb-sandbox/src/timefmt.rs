//! Time formats WB actually emits: Go's RFC3339Nano (trailing zeros trimmed) for content,
//! zone-less Moscow time for statistics.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

pub const MOSCOW_OFFSET_SECS: i32 = 3 * 3600;

pub fn moscow() -> FixedOffset {
    FixedOffset::east_opt(MOSCOW_OFFSET_SECS).expect("valid offset")
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Fraction of a second the way Go prints it: no trailing zeros, nothing when zero.
fn go_fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// `2023-12-06T11:17:00.96577Z`
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    format!(
        "{}{}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        go_fraction(t.nanosecond() % 1_000_000_000)
    )
}

/// Statistics reports: Moscow wall-clock time without a zone, `2022-05-08T00:44:15.5`.
pub fn moscow_naive(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&moscow());
    format!(
        "{}{}",
        local.format("%Y-%m-%dT%H:%M:%S"),
        go_fraction(local.nanosecond() % 1_000_000_000)
    )
}

/// `/ping`'s `TS`: `2024-08-16T11:19:05+03:00`.
pub fn moscow_rfc3339(t: DateTime<Utc>) -> String {
    t.with_timezone(&moscow())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Start of the Moscow day containing `t`, as WB prints `cancelDate`.
pub fn moscow_day_start(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&moscow());
    format!("{}T00:00:00", local.format("%Y-%m-%d"))
}

pub fn moscow_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&moscow()).date_naive()
}

/// A `dateFrom` value: a date, a zone-less Moscow date-time (seconds or fractions), or a
/// full RFC3339 string. Returns the instant and whether a time of day was given.
pub fn parse_date_from(raw: &str) -> Option<(DateTime<Utc>, bool)> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let local = moscow()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()?;
        return Some((local.with_timezone(&Utc), false));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some((truncate_to_micros(t.with_timezone(&Utc)), true));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(raw, fmt) {
            let local = moscow().from_local_datetime(&n).single()?;
            return Some((truncate_to_micros(local.with_timezone(&Utc)), true));
        }
    }
    None
}

/// Everything the sandbox generates has microsecond resolution, so compare at that grain.
fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    from_micros(t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_fractions() {
        let t = from_micros(1_701_861_420_965_770);
        assert_eq!(rfc3339_nano(t), "2023-12-06T11:17:00.96577Z");
        assert_eq!(moscow_naive(t), "2023-12-06T14:17:00.96577");
        let whole = from_micros(1_701_861_420_000_000);
        assert_eq!(rfc3339_nano(whole), "2023-12-06T11:17:00Z");
        assert_eq!(moscow_rfc3339(whole), "2023-12-06T14:17:00+03:00");
        assert_eq!(moscow_day_start(whole), "2023-12-06T00:00:00");
    }

    #[test]
    fn date_from_variants() {
        let (d, has_time) = parse_date_from("2023-12-06").unwrap();
        assert!(!has_time);
        assert_eq!(moscow_naive(d), "2023-12-06T00:00:00");
        let (t, has_time) = parse_date_from("2023-12-06T14:17:00.96577").unwrap();
        assert!(has_time);
        assert_eq!(t, from_micros(1_701_861_420_965_770));
        assert_eq!(parse_date_from("2023-12-06T11:17:00.96577Z").unwrap().0, t);
        assert!(parse_date_from("yesterday").is_none());
    }
}
