//! What a person recognises a browser by: "Chrome 156" on "Linux", read from the
//! `User-Agent` a sign-in or a session came with.

/// A browser and the system it runs on, as people name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// "Chrome 156", or the program's own name for a client that is not a browser.
    pub browser: String,
    /// "Linux", "Windows 10", "iPhone"; empty when the agent does not say.
    pub system: String,
}

impl Device {
    /// The device behind a `User-Agent`; `None` for an empty one.
    pub fn of(user_agent: &str) -> Option<Self> {
        let user_agent = user_agent.trim();
        if user_agent.is_empty() {
            return None;
        }
        let parsed = woothee::parser::Parser::new().parse(user_agent);
        let browser_like =
            |category: &str| matches!(category, "pc" | "smartphone" | "mobilephone" | "appliance");
        let Some(found) = parsed.filter(|found| browser_like(found.category)) else {
            // Not a browser: a program (`curl/8.5.0`, `okhttp/4.12`) by its first word.
            let program = user_agent.split_whitespace().next().unwrap_or(user_agent);
            return Some(Self { browser: program.chars().take(40).collect(), system: String::new() });
        };
        let major = found.version.split('.').next().unwrap_or_default();
        let browser = match (found.name, major) {
            (name, "" | "UNKNOWN") => name.to_owned(),
            (name, major) => format!("{name} {major}"),
        };
        let system = match found.os {
            "UNKNOWN" => String::new(),
            os => os.to_owned(),
        };
        Some(Self { browser, system })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(agent: &str) -> (String, String) {
        let d = Device::of(agent).unwrap();
        (d.browser, d.system)
    }

    #[test]
    fn browsers_are_named_with_their_major_version_and_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.8078.73 Safari/537.36";
        assert_eq!(device(chrome), ("Chrome 156".into(), "Linux".into()));
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(firefox), ("Firefox 128".into(), "Windows 10".into()));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        assert_eq!(device(iphone).1, "iPhone");
    }

    #[test]
    fn a_program_is_named_by_its_first_word_and_an_empty_agent_by_nothing() {
        assert_eq!(device("curl/8.5.0").0, "curl/8.5.0");
        assert_eq!(Device::of("  "), None);
    }
}
