//! How values read on a page: money in the company's currency (the core's
//! formatter, as e-mails show it) and dates in the company's time zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

pub use seatkeeper_core::emails::money;

/// A date as `YYYY-MM-DD`.
pub fn date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// An instant as the company's local date and time.
pub fn local_time(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_companys() {
        let at = DateTime::parse_from_rfc3339("2026-01-31T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_time(at, chrono_tz::Asia::Tokyo), "2026-02-01 08:30");
        assert_eq!(money(42740, "GBP"), "GBP 427.40");
    }
}
