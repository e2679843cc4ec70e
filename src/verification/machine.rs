//! The verification call as a pure state machine: from a call's persisted state and the
//! clock, the next step. Nothing here touches the database or the network.
//!
//! ```text
//! queued --CallDelay--> ringing --ring time--> in-progress --keypad--> completed
//!    \                     \                                 (success: digits == code)
//!     `--> busy             `--> no-answer                   (failed: wrong code, silence)
//! ```

use crate::store::Call;

/// How the simulated callee answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Answers and keys the validation code.
    CorrectCode,
    /// Answers and keys a wrong code.
    WrongCode,
    /// Lets it ring until the call gives up.
    NoAnswer,
    /// The line is busy.
    Busy,
    /// Answers and waits for digits posted to `POST /_emulator/calls/{CallSid}/digits`.
    Manual,
}

impl Behavior {
    pub const ALL: [Behavior; 5] = [
        Behavior::CorrectCode,
        Behavior::WrongCode,
        Behavior::NoAnswer,
        Behavior::Busy,
        Behavior::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::CorrectCode => "correct-code",
            Behavior::WrongCode => "wrong-code",
            Behavior::NoAnswer => "no-answer",
            Behavior::Busy => "busy",
            Behavior::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Behavior> {
        Behavior::ALL.into_iter().find(|b| b.as_str() == s)
    }

    /// The magic numbers, on every account with no set-up. They sit in +1 500-555, the range
    /// Twilio keeps for its own test numbers, so no number a team really verifies is one.
    pub fn for_magic_number(e164: &str) -> Option<Behavior> {
        match e164 {
            "+15005550001" => Some(Behavior::CorrectCode),
            "+15005550002" => Some(Behavior::WrongCode),
            "+15005550003" => Some(Behavior::NoAnswer),
            "+15005550004" => Some(Behavior::Busy),
            "+15005550005" => Some(Behavior::Manual),
            _ => None,
        }
    }
}

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

/// What happens to a call now.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub status: &'static str,
    pub next_action_at: Option<i64>,
    pub verification_status: Option<&'static str>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
    pub digits: Option<String>,
    pub create_caller_id: bool,
    pub note: String,
}

impl Step {
    fn waiting(status: &'static str, next: i64, note: impl Into<String>) -> Step {
        Step {
            status,
            next_action_at: Some(next),
            verification_status: None,
            start_time: None,
            end_time: None,
            duration: None,
            digits: None,
            create_caller_id: false,
            note: note.into(),
        }
    }

    fn ended(status: &'static str, now: i64, note: impl Into<String>) -> Step {
        Step {
            status,
            next_action_at: None,
            verification_status: Some("failed"),
            start_time: None,
            end_time: Some(now),
            duration: Some(0),
            digits: None,
            create_caller_id: false,
            note: note.into(),
        }
    }
}

/// A wrong code for `code`: every digit moved on by one.
pub fn wrong_code(code: &str) -> String {
    code.bytes()
        .map(|b| (b'0' + (b.saturating_sub(b'0') + 1) % 10) as char)
        .collect()
}

/// The step a due call takes at `now` (real milliseconds).
pub fn next_step(call: &Call, behavior: Behavior, timing: &Timing, now: i64) -> Step {
    match call.status.as_str() {
        "queued" => match behavior {
            Behavior::Busy => Step::waiting(
                "ringing",
                timing.after(now, timing.busy_seconds),
                "dialing; the line is busy",
            ),
            Behavior::NoAnswer => Step::waiting(
                "ringing",
                timing.after(now, timing.no_answer_seconds),
                "ringing; nobody answers",
            ),
            _ => Step::waiting("ringing", timing.after(now, timing.ring_seconds), "ringing"),
        },
        "ringing" => match behavior {
            Behavior::Busy => Step::ended("busy", now, "the line was busy"),
            Behavior::NoAnswer => Step::ended("no-answer", now, "nobody answered"),
            Behavior::Manual => {
                let next = if call.digits.is_some() {
                    now
                } else {
                    now.saturating_add(timing.manual_timeout_ms)
                };
                Step {
                    start_time: Some(now),
                    ..Step::waiting(
                        "in-progress",
                        next,
                        "answered; the prompt asks for the code and waits for digits",
                    )
                }
            }
            _ => {
                let next = if call.digits.is_some() {
                    now
                } else {
                    timing.after(now, timing.keypad_seconds)
                };
                Step {
                    start_time: Some(now),
                    ..Step::waiting(
                        "in-progress",
                        next,
                        "answered; the prompt asks for the code",
                    )
                }
            }
        },
        "in-progress" => {
            let start = call.start_time.unwrap_or(now);
            let keyed = call.digits.clone().or_else(|| match behavior {
                Behavior::CorrectCode => Some(call.validation_code.clone()),
                Behavior::WrongCode => Some(wrong_code(&call.validation_code)),
                _ => None,
            });
            let duration = if call.digits.is_some() || behavior == Behavior::Manual {
                ((now - start).max(0) + 999) / 1000
            } else {
                timing.keypad_seconds.round() as i64
            };
            let success = keyed.as_deref() == Some(call.validation_code.as_str());
            let note = match &keyed {
                None => "no digits were keyed before the keypad timeout".to_string(),
                Some(d) if success => format!("callee keyed {d:?}, the validation code"),
                Some(d) => format!("callee keyed {d:?}, not the validation code"),
            };
            Step {
                status: "completed",
                next_action_at: None,
                verification_status: Some(if success { "success" } else { "failed" }),
                start_time: None,
                end_time: Some(now),
                duration: Some(duration.max(1)),
                digits: keyed,
                create_caller_id: success,
                note,
            }
        }
        // An ended call has no next step; the scheduler never selects one.
        other => Step::ended(
            match other {
                "busy" => "busy",
                "no-answer" => "no-answer",
                "canceled" => "canceled",
                "failed" => "failed",
                _ => "completed",
            },
            now,
            "already ended",
        ),
    }
}

/// The steps a due call takes at `now`: its next step, then each following one that is due by
/// `now` as well (at time scale 0, the whole call), and the call as they leave it.
pub fn steps_due(call: &Call, behavior: Behavior, timing: &Timing, now: i64) -> (Vec<Step>, Call) {
    /// More steps than any call has: a guard, should a step ever lead back to itself.
    const MAX_STEPS: usize = 8;
    let mut state = call.clone();
    let mut steps = Vec::new();
    loop {
        let step = next_step(&state, behavior, timing, now);
        state.status = step.status.to_string();
        state.next_action_at = step.next_action_at;
        if let Some(v) = step.verification_status {
            state.verification_status = Some(v.to_string());
        }
        state.start_time = step.start_time.or(state.start_time);
        state.end_time = step.end_time.or(state.end_time);
        state.duration = step.duration.or(state.duration);
        if step.digits.is_some() {
            state.digits.clone_from(&step.digits);
        }
        let due_again = step.next_action_at.is_some_and(|at| at <= now);
        steps.push(step);
        if !due_again || steps.len() >= MAX_STEPS {
            return (steps, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: &str, digits: Option<&str>) -> Call {
        Call {
            sid: "CA00000000000000000000000000000001".into(),
            account_sid: "AC00000000000000000000000000000001".into(),
            to_number: "+14155550100".into(),
            friendly_name: "(415) 555-0100".into(),
            validation_code: "012345".into(),
            extension: None,
            call_delay: 0,
            status_callback: None,
            status_callback_method: "POST".into(),
            behavior: "correct-code".into(),
            status: status.into(),
            verification_status: None,
            digits: digits.map(String::from),
            next_action_at: Some(0),
            outgoing_caller_id_sid: None,
            date_created: 0,
            date_updated: 0,
            start_time: Some(1_000),
            end_time: None,
            duration: None,
        }
    }

    fn timing() -> Timing {
        Timing::default()
    }

    #[test]
    fn correct_code_walks_to_success() {
        let t = timing();
        let s = next_step(&call("queued", None), Behavior::CorrectCode, &t, 0);
        assert_eq!((s.status, s.next_action_at), ("ringing", Some(3_000)));
        let s = next_step(&call("ringing", None), Behavior::CorrectCode, &t, 3_000);
        assert_eq!((s.status, s.next_action_at), ("in-progress", Some(11_000)));
        assert_eq!(s.start_time, Some(3_000));
        let s = next_step(
            &call("in-progress", None),
            Behavior::CorrectCode,
            &t,
            11_000,
        );
        assert_eq!(s.status, "completed");
        assert_eq!(s.verification_status, Some("success"));
        assert!(s.create_caller_id);
        assert_eq!(s.digits.as_deref(), Some("012345"));
        assert_eq!(s.duration, Some(8));
    }

    #[test]
    fn wrong_code_fails() {
        assert_eq!(wrong_code("012349"), "123450");
        let s = next_step(
            &call("in-progress", None),
            Behavior::WrongCode,
            &timing(),
            5,
        );
        assert_eq!(s.verification_status, Some("failed"));
        assert!(!s.create_caller_id);
    }

    #[test]
    fn busy_and_no_answer_end_without_answering() {
        let t = timing();
        let s = next_step(&call("queued", None), Behavior::Busy, &t, 0);
        assert_eq!(s.next_action_at, Some(2_000));
        let s = next_step(&call("ringing", None), Behavior::Busy, &t, 2_000);
        assert_eq!((s.status, s.verification_status), ("busy", Some("failed")));
        let s = next_step(&call("queued", None), Behavior::NoAnswer, &t, 0);
        assert_eq!(s.next_action_at, Some(60_000));
        let s = next_step(&call("ringing", None), Behavior::NoAnswer, &t, 60_000);
        assert_eq!(s.status, "no-answer");
        assert_eq!(s.next_action_at, None);
    }

    #[test]
    fn manual_waits_for_digits_unscaled() {
        let t = Timing {
            time_scale: 0.0,
            ..timing()
        };
        let s = next_step(&call("ringing", None), Behavior::Manual, &t, 100);
        assert_eq!(s.next_action_at, Some(60_100));
        let s = next_step(&call("in-progress", None), Behavior::Manual, &t, 61_000);
        assert_eq!(s.verification_status, Some("failed"));
        let s = next_step(
            &call("in-progress", Some("012345")),
            Behavior::Manual,
            &t,
            4_000,
        );
        assert_eq!(s.verification_status, Some("success"));
        assert_eq!(s.duration, Some(3));
    }

    #[test]
    fn time_scale_zero_makes_waits_instant() {
        let t = Timing {
            time_scale: 0.0,
            ..timing()
        };
        let s = next_step(&call("queued", None), Behavior::NoAnswer, &t, 7);
        assert_eq!(s.next_action_at, Some(7));
    }

    #[test]
    fn steps_due_by_now_are_taken_together() {
        let instant = Timing {
            time_scale: 0.0,
            ..timing()
        };
        let (steps, end) = steps_due(&call("queued", None), Behavior::CorrectCode, &instant, 50);
        let statuses: Vec<_> = steps.iter().map(|s| s.status).collect();
        assert_eq!(statuses, ["ringing", "in-progress", "completed"]);
        assert_eq!(end.status, "completed");
        assert_eq!(end.next_action_at, None);
        assert_eq!(end.verification_status.as_deref(), Some("success"));
        assert_eq!(end.digits.as_deref(), Some("012345"));
        assert_eq!(end.start_time, Some(50));
        assert!(steps.last().is_some_and(|s| s.create_caller_id));
        // In real time only the step that is due is taken.
        let (steps, end) = steps_due(&call("queued", None), Behavior::CorrectCode, &timing(), 50);
        assert_eq!(steps.len(), 1);
        assert_eq!(end.status, "ringing");
        assert_eq!(end.next_action_at, Some(3_050));
        // A manual callee stops the run at the wait for digits, even at time scale 0.
        let (steps, end) = steps_due(&call("queued", None), Behavior::Manual, &instant, 50);
        assert_eq!(steps.len(), 2);
        assert_eq!(end.status, "in-progress");
        assert_eq!(end.next_action_at, Some(60_050));
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(
            Behavior::for_magic_number("+15005550004"),
            Some(Behavior::Busy)
        );
        assert_eq!(Behavior::for_magic_number("+14155550100"), None);
    }
}
