//! The clock. Every time the emulator stores is milliseconds (or, for caller IDs' dates,
//! seconds) since the Unix epoch, read here.

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Twilio's default name of a subaccount made at `unix_seconds`:
/// `SubAccount Created at YYYY-MM-DD HH:MM am|pm`, in US Pacific time, with a 24-hour `HH` and
/// a lower-case meridian after it, as Twilio writes it (`SubAccount Created at 2011-02-10
/// 16:19 pm` in twilio-python's tests; `… 2014-10-03 09:48 am` for an account made at
/// 16:48Z, in Twilio's Monitor API docs).
pub fn subaccount_default_name(unix_seconds: i64) -> String {
    let local = unix_seconds + pacific_offset_seconds(unix_seconds);
    let t = chrono::DateTime::from_timestamp(local, 0).unwrap_or_default();
    let meridian = if chrono::Timelike::hour(&t) < 12 {
        "am"
    } else {
        "pm"
    };
    format!(
        "SubAccount Created at {} {meridian}",
        t.format("%Y-%m-%d %H:%M")
    )
}

/// The offset of US Pacific time from UTC at `unix_seconds`: -7 h from the second Sunday of
/// March at 02:00 local to the first Sunday of November at 02:00 local (the rule since
/// 2007), else -8 h.
fn pacific_offset_seconds(unix_seconds: i64) -> i64 {
    use chrono::{Datelike, NaiveDate, Weekday};
    const PST: i64 = -8 * 3600;
    const PDT: i64 = -7 * 3600;
    let Some(t) = chrono::DateTime::from_timestamp(unix_seconds, 0) else {
        return PST;
    };
    let year = t.year();
    let nth_sunday = |month: u32, n: u8| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n)
            .and_then(|d| d.and_hms_opt(2, 0, 0))
            .map(|d| d.and_utc().timestamp())
    };
    match (nth_sunday(3, 2), nth_sunday(11, 1)) {
        // Summer time starts at 02:00 PST (10:00 UTC) and ends at 02:00 PDT (09:00 UTC).
        (Some(start), Some(end)) if unix_seconds >= start - PST && unix_seconds < end - PDT => PDT,
        _ => PST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_subaccount_names_are_in_pacific_time() {
        // 2014-10-03T16:48:25Z, summer time: 09:48 am.
        assert_eq!(
            subaccount_default_name(1_412_354_905),
            "SubAccount Created at 2014-10-03 09:48 am"
        );
        // 2011-02-11T00:19:00Z, winter: 16:19 pm on the 10th.
        assert_eq!(
            subaccount_default_name(1_297_383_540),
            "SubAccount Created at 2011-02-10 16:19 pm"
        );
        // 2026-03-08T09:59:59Z is 01:59 PST; a second later it is 03:00 PDT.
        assert!(subaccount_default_name(1_772_963_999).ends_with("01:59 am"));
        assert!(subaccount_default_name(1_772_964_000).ends_with("03:00 am"));
    }
}
