//! Which representation a request asked for, decided by its path's suffix.

/// The representation a request asked for. Twilio's 2010 API decides it by the path suffix
/// alone: `.json` gives JSON, `.xml` or no suffix gives XML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The format of a whole request path: JSON only when it ends in `.json`.
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".json") {
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
    None,
}

impl Suffix {
    pub fn format(self) -> Format {
        match self {
            Suffix::Json => Format::Json,
            Suffix::Xml | Suffix::None => Format::Xml,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::Json => ".json",
            Suffix::Xml => ".xml",
            Suffix::None => "",
        }
    }

    /// Splits `Name.json` / `Name.xml` / `Name` into the name and its suffix. Any other
    /// suffix (`.csv`, `.html`) is not served.
    pub fn split(segment: &str) -> Option<(&str, Suffix)> {
        if let Some(name) = segment.strip_suffix(".json") {
            Some((name, Suffix::Json))
        } else if let Some(name) = segment.strip_suffix(".xml") {
            Some((name, Suffix::Xml))
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
        assert_eq!(Suffix::split("X.csv"), None);
    }
}
