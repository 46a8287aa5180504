//! Translations of everything people read (pages, emails, SMS) into English, Russian
//! and Spanish. The strings live in `locales/<lang>/main.ftl` (Fluent) and are compiled
//! into the binary.

use fluent_templates::{LanguageIdentifier, Loader, fluent_bundle::FluentValue, langid};

use crate::values::Language;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they show up in plain-text email.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Translates into one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr(pub Language);

impl Tr {
    fn id(self) -> LanguageIdentifier {
        match self.0 {
            Language::En => langid!("en"),
            Language::Ru => langid!("ru"),
            Language::Es => langid!("es"),
        }
    }

    /// The text for `key`.
    pub fn t(&self, key: &str) -> String {
        LOCALES.lookup(&self.id(), key)
    }

    /// The text for `key`, if there is one.
    pub fn try_t(&self, key: &str) -> Option<String> {
        LOCALES.try_lookup(&self.id(), key)
    }

    /// The text for `key` with one argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl Into<FluentValue<'static>>) -> String {
        self.with(key, [(name, value.into())])
    }

    /// The text for `key` with its arguments.
    pub fn with<const N: usize>(&self, key: &str, args: [(&'static str, FluentValue<'static>); N]) -> String {
        let args = args.into_iter().map(|(name, value)| (std::borrow::Cow::Borrowed(name), value)).collect();
        LOCALES.lookup_with_args(&self.id(), key, &args)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ftl: &str) -> Vec<&str> {
        ftl.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim())).collect()
    }

    #[test]
    fn every_english_string_is_translated_into_russian_and_spanish() {
        let english = keys(include_str!("../locales/en/main.ftl"));
        assert_eq!(keys(include_str!("../locales/ru/main.ftl")), english);
        assert_eq!(keys(include_str!("../locales/es/main.ftl")), english);
    }

    #[test]
    fn a_number_takes_the_form_of_the_noun_each_language_needs() {
        let ended = |lang, n: i64| Tr(lang).t1("sessions-ended", "count", n);
        assert_eq!(ended(Language::En, 1), "1 other session was ended.");
        assert_eq!(ended(Language::En, 2), "2 other sessions were ended.");
        assert_eq!(ended(Language::Ru, 1), "Завершён ещё 1 сеанс.");
        assert_eq!(ended(Language::Ru, 3), "Завершены ещё 3 сеанса.");
        assert_eq!(ended(Language::Ru, 5), "Завершено ещё 5 сеансов.");
        assert_eq!(ended(Language::Ru, 21), "Завершён ещё 21 сеанс.");
        assert_eq!(ended(Language::Es, 1), "Se cerró 1 sesión más.");
        let left = |lang, n: i64| Tr(lang).t1("accounts-sms-left", "count", n);
        assert_eq!(left(Language::En, 1), "On, 1 message left");
        assert_eq!(left(Language::Es, 1), "Activado, queda 1 mensaje");
        assert_eq!(left(Language::Es, 7), "Activado, quedan 7 mensajes");
        let valid = Tr(Language::Ru).t1("email-reset-valid", "hours", 24);
        assert_eq!(valid, "Ссылка действует 24 часа, один раз.");
    }

    #[test]
    fn arguments_are_filled_in_without_isolation_marks() {
        assert_eq!(
            Tr(Language::Ru).t1("error-locked", "minutes", 15),
            "Слишком много неудачных попыток. Повторите через 15 мин."
        );
    }
}
