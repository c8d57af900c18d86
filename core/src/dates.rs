//! Calendar rules. Every date here is a calendar date in the company's time
//! zone; no instant arithmetic, so DST never shifts a day.

use chrono::{Days, Months, NaiveDate};

/// How many days before `D` the reminder is due (72 hours).
pub const REMINDER_DAYS_BEFORE: u64 = 3;

/// `date` plus `months`, clamping to the end of the target month:
/// 2024-02-29 + 12 months = 2025-02-28, 2026-01-31 + 1 month = 2026-02-28.
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    // chrono clamps to the month's last day; it only fails past year 262143.
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// When a rolling-12-month licence allocated on `date` ends.
pub fn rolling_licence_end(allocated_on: NaiveDate) -> NaiveDate {
    add_months(allocated_on, 12)
}

/// Whole calendar days from `from` to `to` (negative if `to` is earlier).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// Something that ends on `ends_on` is valid through the day before; on
/// `ends_on` itself it has ended.
pub fn has_ended(ends_on: NaiveDate, today: NaiveDate) -> bool {
    today >= ends_on
}

/// The kind of notice due about something that ends on a date.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Due on D-3: "ends in 72 hours".
    Reminder,
    /// Due on D: "has ended today".
    Expiry,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 2] = [NoticeKind::Reminder, NoticeKind::Expiry];

    /// The day this notice is due for something ending on `ends_on`.
    pub fn due_on(self, ends_on: NaiveDate) -> NaiveDate {
        match self {
            NoticeKind::Reminder => ends_on
                .checked_sub_days(Days::new(REMINDER_DAYS_BEFORE))
                .unwrap_or(NaiveDate::MIN),
            NoticeKind::Expiry => ends_on,
        }
    }

    /// The end date a notice due on `due_on` is about.
    pub fn ends_on(self, due_on: NaiveDate) -> NaiveDate {
        match self {
            NoticeKind::Reminder => due_on
                .checked_add_days(Days::new(REMINDER_DAYS_BEFORE))
                .unwrap_or(NaiveDate::MAX),
            NoticeKind::Expiry => due_on,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Reminder => "reminder",
            NoticeKind::Expiry => "expiry",
        }
    }
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// True in leap years; used to explain 366-day terms.
pub fn is_leap_year(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use chrono_tz::Tz;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn rolling_end_dates() {
        let table = [
            ("2026-03-15", "2027-03-15"),
            ("2024-02-29", "2025-02-28"), // leap day goes to 28 Feb
            ("2027-02-28", "2028-02-28"),
            ("2026-12-31", "2027-12-31"),
            ("2027-01-01", "2028-01-01"),
        ];
        for (from, to) in table {
            assert_eq!(rolling_licence_end(d(from)), d(to), "{from}");
        }
    }

    #[test]
    fn month_end_clamping() {
        let table = [
            ("2026-01-31", 1, "2026-02-28"),
            ("2028-01-31", 1, "2028-02-29"),
            ("2026-03-31", 1, "2026-04-30"),
            ("2026-08-31", 6, "2027-02-28"),
            ("2026-05-31", 12, "2027-05-31"),
        ];
        for (from, months, to) in table {
            assert_eq!(add_months(d(from), months), d(to), "{from} + {months}");
        }
    }

    #[test]
    fn expiry_and_reminder_dates() {
        // (ends_on, today, ended?)
        let table = [
            ("2026-12-01", "2026-11-30", false), // D-1: still valid
            ("2026-12-01", "2026-12-01", true),  // D: expired
            ("2026-12-01", "2026-12-02", true),
        ];
        for (ends, today, ended) in table {
            assert_eq!(has_ended(d(ends), d(today)), ended, "{ends} on {today}");
        }
        assert_eq!(
            NoticeKind::Reminder.due_on(d("2026-12-01")),
            d("2026-11-28")
        );
        assert_eq!(NoticeKind::Expiry.due_on(d("2026-12-01")), d("2026-12-01"));
        assert_eq!(
            NoticeKind::Reminder.due_on(d("2027-03-02")),
            d("2027-02-27")
        );
        assert_eq!(
            NoticeKind::Reminder.due_on(d("2028-03-02")),
            d("2028-02-28")
        );
        for kind in NoticeKind::ALL {
            let ends = d("2026-03-01");
            assert_eq!(kind.ends_on(kind.due_on(ends)), ends);
        }
    }

    #[test]
    fn days_in_terms() {
        assert_eq!(days_between(d("2026-04-01"), d("2027-04-01")), 365);
        assert_eq!(days_between(d("2027-04-01"), d("2028-04-01")), 366);
        assert_eq!(days_between(d("2026-11-22"), d("2027-04-01")), 130);
        assert!(is_leap_year(2028) && !is_leap_year(2026));
    }

    /// "Today" is the company's local date. Across the UK's DST change on
    /// 2026-03-29 (01:00 UTC clocks go forward), and at midnight local time,
    /// the local date and the UTC date differ.
    #[test]
    fn company_local_date_across_dst() {
        let london: Tz = "Europe/London".parse().unwrap();
        let auckland: Tz = "Pacific/Auckland".parse().unwrap();
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let local = |tz: Tz, y, m, day, h, min| {
            Utc.with_ymd_and_hms(y, m, day, h, min, 0)
                .unwrap()
                .with_timezone(&tz)
                .date_naive()
        };
        // Before the change London is on GMT: 23:30 UTC is still the 28th.
        assert_eq!(local(london, 2026, 3, 28, 23, 30), d("2026-03-28"));
        // After it, BST: 23:30 UTC on the 29th is 00:30 on the 30th in London.
        assert_eq!(local(london, 2026, 3, 29, 23, 30), d("2026-03-30"));
        // In autumn (25 Oct 2026) 23:30 UTC on the 24th is already the 25th...
        assert_eq!(local(london, 2026, 10, 24, 23, 30), d("2026-10-25"));
        // ...and on the 25th, back on GMT, 23:30 UTC is still the 25th.
        assert_eq!(local(london, 2026, 10, 25, 23, 30), d("2026-10-25"));
        // One instant, two local days.
        assert_eq!(local(auckland, 2026, 11, 22, 12, 0), d("2026-11-23"));
        assert_eq!(local(la, 2026, 11, 22, 12, 0), d("2026-11-22"));
        // A licence ending 2026-03-30 has ended for London at that instant,
        // though the UTC date is still the 29th.
        assert!(has_ended(
            d("2026-03-30"),
            local(london, 2026, 3, 29, 23, 30)
        ));
    }
}
