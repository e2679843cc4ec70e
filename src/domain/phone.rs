//! Phone numbers as Twilio takes them: E.164, or unformatted US numbers such as
//! `(415) 555-1212` and `415-555-1212`. Parsing and country rules come from libphonenumber's
//! metadata (the `phonenumber` crate).

use std::fmt;

/// A phone number in E.164 form (`+14158675309`).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses what a client sent. Numbers without a `+` are read as US numbers. A number must
    /// have a known country code and a length that country allows; for +1, ten digits whose
    /// area code starts with 2–9. Whether the number is assigned is not checked, so the
    /// fictional 555 numbers and Twilio's magic test numbers are accepted.
    ///
    /// A number is accepted only when its E.164 text reads back as the same number, so that
    /// what is stored (and filtered on, and shown) parses to itself: libphonenumber reads
    /// `+4400001761922187` as +44001761922187, whose E.164 text reads as +441761922187, and
    /// such a number is refused rather than stored under a text that names another.
    pub fn parse(input: &str) -> Option<PhoneNumber> {
        if Self::is_plain_nanp(input) {
            return Some(PhoneNumber(input.to_string()));
        }
        let e164 = Self::read(input)?;
        (Self::read(&e164).as_deref() == Some(e164.as_str())).then_some(PhoneNumber(e164))
    }

    /// Whether `input` is already the E.164 text of a +1 number by the rules above: `+1`, then
    /// ten digits, the first 2–9. libphonenumber reads such a text as itself, at some 40,000
    /// instructions a read (a test checks that both agree), so it is taken as it is.
    fn is_plain_nanp(input: &str) -> bool {
        let bytes = input.as_bytes();
        bytes.len() == 12
            && bytes.starts_with(b"+1")
            && matches!(bytes[2], b'2'..=b'9')
            && bytes[3..].iter().all(u8::is_ascii_digit)
    }

    /// The E.164 text of what a client sent, by libphonenumber and the rules above.
    fn read(input: &str) -> Option<String> {
        let input = input.trim();
        if input.is_empty() || input.len() > 64 || input.chars().any(|c| c.is_control()) {
            return None;
        }
        // Numbers must be made of digits and the usual punctuation; letters are not keypad
        // vanity numbers here, and a `+` anywhere but first is not a number.
        if !input
            .chars()
            .all(|c| c.is_ascii_digit() || " ()-.+".contains(c))
            || input[1..].contains('+')
        {
            return None;
        }
        // International input is parsed without a default region: with US as the region the
        // crate strips a leading `1` (the US national prefix) from any country's national
        // number, turning +33 1 42 68 53 00 into +33 42 68 53 00.
        let region = (!input.starts_with('+')).then_some(phonenumber::country::Id::US);
        let parsed = phonenumber::parse(region, input).ok()?;
        if parsed.extension().is_some() {
            return None;
        }
        let code = parsed.code().value();
        let national = parsed.national().to_string();
        if national.starts_with('0') && code == 1 {
            return None;
        }
        let plausible = if code == 1 {
            national.len() == 10 && matches!(national.as_bytes()[0], b'2'..=b'9')
        } else {
            parsed.is_valid()
                || ((4..=14).contains(&national.len())
                    && national.len() + code.to_string().len() <= 15
                    && parsed.country().id().is_some())
        };
        // E.164 allows 15 digits at most, which storage holds numbers to (`from_stored`); the
        // metadata calls some longer national numbers valid (+49 with 14 digits).
        let e164 = format!("+{code}{national}");
        (plausible && e164.len() <= 16).then_some(e164)
    }

    /// Loads libphonenumber's metadata, which the first parse otherwise does (about 150 ms,
    /// holding every request that parses a number meanwhile). Call off the async runtime.
    pub fn warm_up() {
        let _ = PhoneNumber::parse("+14155550100");
        let _ = PhoneNumber::parse("+442071838750");
    }

    /// A number read back from storage, which only ever holds parsed numbers: checked for the
    /// E.164 shape (`+`, then 2 to 15 digits, the first not 0) without libphonenumber's rules.
    /// Gives the text back when it is not.
    pub fn from_stored(e164: String) -> Result<PhoneNumber, String> {
        let shaped = e164.strip_prefix('+').is_some_and(|digits| {
            (2..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        });
        if shaped {
            Ok(PhoneNumber(e164))
        } else {
            Err(e164)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Twilio's "nicely formatted version of the phone number": `(415) 867-5309` for +1
    /// numbers, the E.164 string for every other country.
    pub fn formatted(&self) -> String {
        match self.0.strip_prefix("+1") {
            Some(n) if n.len() == 10 => format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
            _ => self.0.clone(),
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(s: &str) -> Option<String> {
        PhoneNumber::parse(s).map(|p| p.to_string())
    }

    /// Found by the phone_number fuzz target: `+4400001761922187` was stored as
    /// +44001761922187, a text that parses as another number, +441761922187.
    #[test]
    fn a_parsed_number_parses_again_to_itself() {
        assert_eq!(e164("+4400001761922187"), None);
        assert_eq!(e164("+44001761922187").as_deref(), Some("+441761922187"));
        for input in [
            "+14158675309",
            "+442071838750",
            "+33 1 42 68 53 00",
            "+390612345678",
            "+44001761922187",
        ] {
            let number = PhoneNumber::parse(input).expect(input);
            assert_eq!(
                PhoneNumber::parse(number.as_str()),
                Some(number.clone()),
                "{input}"
            );
        }
    }

    /// Found by the phone_number fuzz target: +4937542035919375, 16 digits, was accepted
    /// (libphonenumber calls it a valid German number) and then refused by `from_stored`,
    /// so a caller ID stored with it could not be read back.
    #[test]
    fn accepts_at_most_fifteen_digits_as_storage_does() {
        assert_eq!(e164("+4937542035919375"), None);
        let fifteen = PhoneNumber::parse("+493754203591937").expect("15 digits");
        assert!(PhoneNumber::from_stored(fifteen.as_str().to_string()).is_ok());
    }

    #[test]
    fn accepts_e164_and_unformatted_us() {
        for input in [
            "+14158675309",
            "(415) 867-5309",
            "415-867-5309",
            "4158675309",
            "1 415 867 5309",
            " 14158675309",
            "+1 (415) 867-5309",
        ] {
            assert_eq!(e164(input).as_deref(), Some("+14158675309"), "{input}");
        }
        assert_eq!(e164("+15005550006").as_deref(), Some("+15005550006"));
        assert_eq!(e164("+15558675310").as_deref(), Some("+15558675310"));
        assert_eq!(e164("+442071838750").as_deref(), Some("+442071838750"));
        assert_eq!(e164("+4759440374").as_deref(), Some("+4759440374"));
        // A national number starting with 1 keeps it.
        assert_eq!(e164("+33142685300").as_deref(), Some("+33142685300"));
        assert_eq!(e164("+4915123456789").as_deref(), Some("+4915123456789"));
    }

    #[test]
    fn rejects_garbage() {
        for input in [
            "",
            "33",
            "abc",
            "+1234",
            "+999123456789",
            "415-867-530",
            "+1415867530912",
            "0158675309",
            "+14158675309x12",
            "+1415+8675309",
            "1-800-FLOWERS",
        ] {
            assert_eq!(e164(input), None, "{input}");
        }
    }

    /// The shortcut for `+1` and ten digits gives what libphonenumber gives: every area code,
    /// with exchanges and line numbers of every kind (N11, 555, starting with 0 or 1).
    #[test]
    fn plain_nanp_numbers_are_read_as_libphonenumber_reads_them() {
        let mut checked = 0;
        for area in 200..1000 {
            for rest in [
                "0000000", "0119999", "1005550", "2345678", "5550100", "9110000",
            ] {
                let input = format!("+1{area}{rest}");
                assert!(PhoneNumber::is_plain_nanp(&input), "{input}");
                let read = PhoneNumber::read(&input);
                assert_eq!(read.as_deref(), Some(input.as_str()), "{input}");
                checked += 1;
            }
        }
        assert_eq!(checked, 800 * 6);
        for other in [
            "+10158675309",
            "+11158675309",
            "+1415867530",
            "+141586753091",
            "14158675309",
        ] {
            assert!(!PhoneNumber::is_plain_nanp(other), "{other}");
        }
        assert_eq!(e164("+10158675309"), None);
    }

    #[test]
    fn friendly_format() {
        let p = PhoneNumber::parse("+14158675309").map(|p| p.formatted());
        assert_eq!(p.as_deref(), Some("(415) 867-5309"));
        let p = PhoneNumber::parse("+442071838750").map(|p| p.formatted());
        assert_eq!(p.as_deref(), Some("+442071838750"));
    }
}
