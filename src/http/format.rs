//! Which representation a request asked for, decided by its path's suffix.

/// The representation a request's errors (and its JSON or XML body) are written in. Twilio's
/// 2010 API decides it by the path suffix alone: `.json` gives JSON, `.xml` or no suffix gives
/// XML. A `.csv` read is answered in CSV by its handler ([`crate::http::csv`]); its errors are
/// JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format of a whole request path: JSON when it ends in `.json` or `.csv`.
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".json") || path.ends_with(".csv") {
            Format::Json
        } else {
            Format::Xml
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml",
        }
    }
}

/// The suffix a path segment carried, which is echoed back in generated URIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suffix {
    Json,
    Xml,
    Csv,
    None,
}

impl Suffix {
    pub fn format(self) -> Format {
        match self {
            Suffix::Json | Suffix::Csv => Format::Json,
            Suffix::Xml | Suffix::None => Format::Xml,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::Json => ".json",
            Suffix::Xml => ".xml",
            Suffix::Csv => ".csv",
            Suffix::None => "",
        }
    }

    /// Splits `Name.json` / `Name.xml` / `Name.csv` / `Name` into the name and its suffix.
    /// Any other suffix (`.html`) is not served; which routes answer `.csv` is the route's
    /// [`crate::http::context::Segment`] to say.
    pub fn split(segment: &str) -> Option<(&str, Suffix)> {
        if let Some(name) = segment.strip_suffix(".json") {
            Some((name, Suffix::Json))
        } else if let Some(name) = segment.strip_suffix(".xml") {
            Some((name, Suffix::Xml))
        } else if let Some(name) = segment.strip_suffix(".csv") {
            Some((name, Suffix::Csv))
        } else if segment.contains('.') {
            None
        } else {
            Some((segment, Suffix::None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(
            Suffix::split("OutgoingCallerIds.json"),
            Some(("OutgoingCallerIds", Suffix::Json))
        );
        assert_eq!(Suffix::split("X.xml"), Some(("X", Suffix::Xml)));
        assert_eq!(Suffix::split("X"), Some(("X", Suffix::None)));
        assert_eq!(Suffix::split("X.csv"), Some(("X", Suffix::Csv)));
        assert_eq!(Suffix::split("X.html"), None);
        assert_eq!(Format::of_path("/a/X.csv"), Format::Json);
    }
}
