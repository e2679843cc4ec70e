//! The clock. Every time the emulator stores is milliseconds (or, for caller IDs' dates,
//! seconds) since the Unix epoch, read here.

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
