//! The emails people get. Fluent keeps the words (`locales/*/main.ftl`); a template per
//! email (`emails/templates/`) lays them out, and askama escapes every value put into
//! the HTML, so a company or user name can never become markup. The plain-text part is
//! the same words in one paragraph.

use askama::Template;
use url::Url;

use crate::{delivery::Message, error::Result, i18n::Tr};

#[derive(Template)]
#[template(path = "code-email.html")]
struct CodeEmail<'a> {
    lang: &'a str,
    subject: &'a str,
    text: &'a str,
}

#[derive(Template)]
#[template(path = "reset-email.html")]
struct ResetEmail<'a> {
    lang: &'a str,
    subject: &'a str,
    request: String,
    link: &'a str,
    valid: String,
    ignore: String,
}

#[derive(Template)]
#[template(path = "blocking-email.html")]
struct BlockingEmail<'a> {
    lang: &'a str,
    subject: &'a str,
    headline: String,
    consequence: String,
    remedy: String,
    reason: String,
}

/// A one-time code: `text` is the whole message (Fluent's, with the code in it).
pub fn code(tr: Tr, to: &str, subject: String, text: String) -> Result<Message> {
    let html = CodeEmail { lang: tr.0.code(), subject: &subject, text: &text }
        .render()
        .map_err(anyhow::Error::from)?;
    Ok(Message::Email { to: to.to_owned(), subject, text, html })
}

/// A link that sets a new password, good for `hours`.
pub fn reset(tr: Tr, to: &str, link: &Url, hours: i64) -> Result<Message> {
    let subject = tr.t("email-reset-subject");
    let text = tr.with("email-reset-text", [("link", link.to_string().into()), ("hours", hours.into())]);
    let html = ResetEmail {
        lang: tr.0.code(),
        subject: &subject,
        request: tr.t("email-reset-request"),
        link: link.as_str(),
        valid: tr.t1("email-reset-valid", "hours", hours),
        ignore: tr.t("email-reset-ignore"),
    }
    .render()
    .map_err(anyhow::Error::from)?;
    Ok(Message::Email { to: to.to_owned(), subject, text, html })
}

/// The notice that `account` will be blocked on `date`, `days` from today.
pub fn blocking(tr: Tr, to: &str, account: &str, date: &str, days: i64) -> Result<Message> {
    let args =
        || [("account", account.to_owned().into()), ("date", date.to_owned().into()), ("days", days.into())];
    let subject = tr.t1("email-blocking-subject", "date", date.to_owned());
    let html = BlockingEmail {
        lang: tr.0.code(),
        subject: &subject,
        headline: tr.with("email-blocking-headline", args()),
        consequence: tr.t("email-blocking-consequence"),
        remedy: tr.t("email-blocking-remedy"),
        reason: tr.t("email-blocking-reason"),
    }
    .render()
    .map_err(anyhow::Error::from)?;
    let text = tr.with("email-blocking-text", args());
    Ok(Message::Email { to: to.to_owned(), subject, text, html })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Language;

    fn html(message: Message) -> String {
        match message {
            Message::Email { html, .. } => html,
            Message::Sms { .. } => panic!("an email"),
        }
    }

    #[test]
    fn names_in_an_email_are_escaped_quotes_included() {
        let account = r#"Fleet <b>"Bold" & 'Co'</b>"#;
        let notice = html(blocking(Tr(Language::En), "ops@fleet.example", account, "2030-03-06", 3).unwrap());
        assert!(!notice.contains("<b>\"Bold\""), "{notice}");
        assert!(
            notice.contains("Fleet &#60;b&#62;&#34;Bold&#34; &#38; &#39;Co&#39;&#60;/b&#62;"),
            "{notice}"
        );
    }

    #[test]
    fn a_reset_link_is_an_escaped_attribute_and_the_words_are_the_readers_language() {
        let link = Url::parse("https://auth.example/reset/a\"b?x=<y>").unwrap();
        let email = html(reset(Tr(Language::Ru), "ops@fleet.example", &link, 24).unwrap());
        assert!(email.contains("lang=\"ru\""));
        assert!(email.contains("Ссылка действует 24 ч"), "{email}");
        assert!(!email.contains("a\"b"), "{email}");
    }
}
