//! The verification call as a pure state machine: from a call's persisted state and the
//! clock, the next step. Nothing here touches the database or the network.
//!
//! ```text
//! queued --CallDelay--> ringing --ring time--> in-progress --keypad--> completed
//!    \                     \                                 (success: digits == code)
//!     `--> busy             `--> no-answer                   (failed: wrong code, silence)
//! ```

use super::call::{Behavior, Call, CallStatus, VerificationStatus};
pub use super::timing::Timing;

/// What happens to a call now.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub status: CallStatus,
    pub next_action_at: Option<i64>,
    pub verification_status: Option<VerificationStatus>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
    pub digits: Option<String>,
    pub create_caller_id: bool,
    pub note: String,
}

impl Step {
    fn waiting(status: CallStatus, next: i64, note: impl Into<String>) -> Step {
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

    fn ended(status: CallStatus, now: i64, note: impl Into<String>) -> Step {
        Step {
            status,
            next_action_at: None,
            verification_status: Some(VerificationStatus::Failed),
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
    match call.status {
        CallStatus::Queued => match behavior {
            Behavior::Busy => Step::waiting(
                CallStatus::Ringing,
                timing.after(now, timing.busy_seconds),
                "dialing; the line is busy",
            ),
            Behavior::NoAnswer => Step::waiting(
                CallStatus::Ringing,
                timing.after(now, timing.no_answer_seconds),
                "ringing; nobody answers",
            ),
            _ => Step::waiting(
                CallStatus::Ringing,
                timing.after(now, timing.ring_seconds),
                "ringing",
            ),
        },
        CallStatus::Ringing => match behavior {
            Behavior::Busy => Step::ended(CallStatus::Busy, now, "the line was busy"),
            Behavior::NoAnswer => Step::ended(CallStatus::NoAnswer, now, "nobody answered"),
            Behavior::Manual => {
                let next = if call.digits.is_some() {
                    now
                } else {
                    now.saturating_add(timing.manual_timeout_ms)
                };
                Step {
                    start_time: Some(now),
                    ..Step::waiting(
                        CallStatus::InProgress,
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
                        CallStatus::InProgress,
                        next,
                        "answered; the prompt asks for the code",
                    )
                }
            }
        },
        CallStatus::InProgress => {
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
                status: CallStatus::Completed,
                next_action_at: None,
                verification_status: Some(if success {
                    VerificationStatus::Success
                } else {
                    VerificationStatus::Failed
                }),
                start_time: None,
                end_time: Some(now),
                duration: Some(duration.max(1)),
                digits: keyed,
                create_caller_id: success,
                note,
            }
        }
        // An ended call has no next step; the scheduler never selects one.
        ended => Step::ended(ended, now, "already ended"),
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
        state.status = step.status;
        state.next_action_at = step.next_action_at;
        if let Some(v) = step.verification_status {
            state.verification_status = Some(v);
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
    use crate::domain::callback::CallbackMethod;
    use crate::domain::caller_id::FriendlyName;
    use crate::domain::phone::PhoneNumber;
    use crate::domain::sid::{AccountSid, CallSid};

    fn call(status: &str, digits: Option<&str>) -> Call {
        let to = PhoneNumber::parse("+14155550100").expect("number");
        Call {
            sid: CallSid::parse("CA00000000000000000000000000000001").expect("sid"),
            account_sid: AccountSid::parse("AC00000000000000000000000000000001").expect("sid"),
            friendly_name: FriendlyName::of_number(&to),
            to,
            validation_code: "012345".into(),
            extension: None,
            call_delay: 0,
            status_callback: None,
            status_callback_method: CallbackMethod::Post,
            behavior: Behavior::CorrectCode,
            status: CallStatus::parse(status).expect("status"),
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
        assert_eq!(
            (s.status.as_str(), s.next_action_at),
            ("ringing", Some(3_000))
        );
        let s = next_step(&call("ringing", None), Behavior::CorrectCode, &t, 3_000);
        assert_eq!(
            (s.status.as_str(), s.next_action_at),
            ("in-progress", Some(11_000))
        );
        assert_eq!(s.start_time, Some(3_000));
        let s = next_step(
            &call("in-progress", None),
            Behavior::CorrectCode,
            &t,
            11_000,
        );
        assert_eq!(s.status.as_str(), "completed");
        assert_eq!(
            s.verification_status.map(VerificationStatus::as_str),
            Some("success")
        );
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
        assert_eq!(
            s.verification_status.map(VerificationStatus::as_str),
            Some("failed")
        );
        assert!(!s.create_caller_id);
    }

    #[test]
    fn busy_and_no_answer_end_without_answering() {
        let t = timing();
        let s = next_step(&call("queued", None), Behavior::Busy, &t, 0);
        assert_eq!(s.next_action_at, Some(2_000));
        let s = next_step(&call("ringing", None), Behavior::Busy, &t, 2_000);
        assert_eq!(
            (s.status, s.verification_status),
            (CallStatus::Busy, Some(VerificationStatus::Failed))
        );
        let s = next_step(&call("queued", None), Behavior::NoAnswer, &t, 0);
        assert_eq!(s.next_action_at, Some(60_000));
        let s = next_step(&call("ringing", None), Behavior::NoAnswer, &t, 60_000);
        assert_eq!(s.status.as_str(), "no-answer");
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
        assert_eq!(
            s.verification_status.map(VerificationStatus::as_str),
            Some("failed")
        );
        let s = next_step(
            &call("in-progress", Some("012345")),
            Behavior::Manual,
            &t,
            4_000,
        );
        assert_eq!(
            s.verification_status.map(VerificationStatus::as_str),
            Some("success")
        );
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
        let statuses: Vec<_> = steps.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(statuses, ["ringing", "in-progress", "completed"]);
        assert_eq!(end.status.as_str(), "completed");
        assert_eq!(end.next_action_at, None);
        assert_eq!(end.verification_status, Some(VerificationStatus::Success));
        assert_eq!(end.digits.as_deref(), Some("012345"));
        assert_eq!(end.start_time, Some(50));
        assert!(steps.last().is_some_and(|s| s.create_caller_id));
        // In real time only the step that is due is taken.
        let (steps, end) = steps_due(&call("queued", None), Behavior::CorrectCode, &timing(), 50);
        assert_eq!(steps.len(), 1);
        assert_eq!(end.status.as_str(), "ringing");
        assert_eq!(end.next_action_at, Some(3_050));
        // A manual callee stops the run at the wait for digits, even at time scale 0.
        let (steps, end) = steps_due(&call("queued", None), Behavior::Manual, &instant, 50);
        assert_eq!(steps.len(), 2);
        assert_eq!(end.status.as_str(), "in-progress");
        assert_eq!(end.next_action_at, Some(60_050));
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(
            Behavior::for_magic_number(&PhoneNumber::parse("+15005550004").expect("number")),
            Some(Behavior::Busy)
        );
        assert_eq!(
            Behavior::for_magic_number(&PhoneNumber::parse("+14155550100").expect("number")),
            None
        );
    }
}
