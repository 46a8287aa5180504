//! The audit log in words: who (and as whom), what, and the event's details as a short
//! sentence in the reader's language ("App: Web app. Channel: SMS."). The details stay
//! raw in the CSV export and the API; nothing on the page is JSON.

use serde_json::Value;

use super::{company_templates::AuditLine, templates::show_time};
use crate::{audit::Entry, i18n::Tr};

/// One event as the page shows it.
pub fn line(tr: Tr, e: &Entry) -> AuditLine {
    let name = |n: &Option<crate::audit::Named>| n.as_ref().and_then(|n| n.username.clone());
    // Nobody signed in did it: from an address, someone trying to sign in as the subject
    // (a wrong password or code); from nowhere, the operator or the server itself.
    let (person, about_subject) = match (name(&e.user), &e.ip, name(&e.subject)) {
        (Some(user), _, _) => (user, false),
        (None, Some(_), Some(subject)) => (tr.t1("audit-not-signed-in", "name", subject), true),
        _ => (tr.t("audit-system"), false),
    };
    let subject = name(&e.subject).filter(|s| !about_subject && Some(s) != name(&e.user).as_ref());
    let user = match name(&e.acting_as) {
        Some(acting) => tr.with("audit-acting", [("person", person.into()), ("as", acting.into())]),
        None => person,
    };
    AuditLine {
        time: show_time(e.time),
        user,
        subject: subject.unwrap_or_default(),
        action: e.action.clone(),
        action_text: tr.t(&format!("action-{}", e.action.replace('.', "-"))),
        sentence: sentence(tr, &e.details),
        ip: e.ip.clone().unwrap_or_default(),
    }
}

/// The details as "Label: value." phrases; a change as "Label: before → after.".
fn sentence(tr: Tr, details: &Value) -> String {
    let Value::Object(fields) = details else {
        return String::new();
    };
    if let (Some(Value::Object(before)), Some(Value::Object(after))) =
        (fields.get("before"), fields.get("after"))
    {
        return after
            .iter()
            .map(|(key, now)| {
                let was = before.get(key).map_or_else(|| "—".to_owned(), |v| value(tr, v));
                format!("{}: {was} → {}.", label(tr, key), value(tr, now))
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(key, v)| format!("{}: {}.", label(tr, key), value(tr, v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn label(tr: Tr, key: &str) -> String {
    tr.try_t(&format!("detail-{key}")).unwrap_or_else(|| key.replace('_', " "))
}

fn value(tr: Tr, v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::Bool(yes) => tr.t(if *yes { "detail-yes" } else { "detail-no" }),
        Value::String(text) => tr.try_t(&format!("value-{text}")).unwrap_or_else(|| text.clone()),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(|i| value(tr, i)).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, v)| format!("{} {}", label(tr, key), value(tr, v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::values::Language;

    #[test]
    fn details_read_as_words_in_each_language() {
        let sent = json!({ "app": "web", "channel": "sms", "fallback": false });
        assert_eq!(
            sentence(Tr(Language::En), &sent),
            "App: Web app. Channel: SMS. Sent by email instead: no."
        );
        assert_eq!(
            sentence(Tr(Language::Ru), &sent),
            "Приложение: Веб-приложение. Канал: SMS. Отправлен по email вместо SMS: нет."
        );
    }

    #[test]
    fn a_change_reads_as_before_and_after() {
        let change = json!({ "before": { "can_send_sms": false }, "after": { "can_send_sms": true } });
        assert_eq!(sentence(Tr(Language::En), &change), "May receive SMS: no → yes.");
    }
}
