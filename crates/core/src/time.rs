//! Timestamps: parsing the client's RFC 3339 claims and writing the server's
//! `received_at` (UTC, microseconds, `Z`).

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Parses an RFC 3339 date-time with an offset.
///
/// # Errors
/// The text is not RFC 3339 (section 5.6 `date-time`).
pub fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339)
}

/// Microseconds since the Unix epoch; what the store indexes timestamps by.
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    // i64 microseconds cover ±292,000 years; RFC 3339 years stop at 9999.
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Formats `t` as the server writes time: UTC, exactly six fractional digits, `Z`.
pub fn format_utc_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The server's `received_at` for now.
pub fn now_utc_micros() -> (String, i64) {
    let now = OffsetDateTime::now_utc();
    (format_utc_micros(now), unix_micros(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_at_has_six_digits_and_z() {
        let t = parse_rfc3339("2026-11-23T15:22:07.1234+01:00").unwrap();
        assert_eq!(format_utc_micros(t), "2026-11-23T14:22:07.123400Z");
    }

    #[test]
    fn offset_is_required() {
        assert!(parse_rfc3339("2026-11-23T14:22:07").is_err());
        assert!(parse_rfc3339("2026-11-23").is_err());
    }
}
