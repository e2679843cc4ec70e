//! Simulated time: how long each part of a verification call takes, and how that maps onto
//! real time.

/// Simulated durations, in simulated seconds, and how they map onto real time.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Real seconds per simulated second: 1 is real time, 0 makes every simulated wait instant.
    pub time_scale: f64,
    /// How long an answered call rings.
    pub ring_seconds: f64,
    /// How long an unanswered call rings before it ends as `no-answer`.
    pub no_answer_seconds: f64,
    /// How long a busy line takes to report busy.
    pub busy_seconds: f64,
    /// From answer to the last digit keyed by a simulated callee (the prompt plus typing).
    pub keypad_seconds: f64,
    /// How long a `manual` call waits for posted digits, in real milliseconds (never scaled: a
    /// person or a test is on the other end).
    pub manual_timeout_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            time_scale: 1.0,
            ring_seconds: 3.0,
            no_answer_seconds: 60.0,
            busy_seconds: 2.0,
            keypad_seconds: 8.0,
            manual_timeout_ms: 60_000,
        }
    }
}

impl Timing {
    /// Real milliseconds for `seconds` of simulated time (saturating, as `as` casts do).
    pub fn real_ms(&self, seconds: f64) -> i64 {
        (seconds * self.time_scale * 1000.0).round() as i64
    }

    /// The real time `seconds` of simulated time after `now`.
    pub fn after(&self, now: i64, seconds: f64) -> i64 {
        now.saturating_add(self.real_ms(seconds))
    }
}
