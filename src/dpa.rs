//! The Data Protection Agreement every user accepts before anything else.
//!
//! Each account has an agreement version; a user who has accepted an older version (or
//! none) has the `accept_dpa` duty. Raising an account's version asks its users again.
//! The text itself is the operator's, one per language ([`Texts`]), or a built-in one.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    i18n::Tr,
    rights::Actor,
    store::Store,
    values::{Language, User},
};

/// The agreement's text in each language. With `PORTCULLIS_DPA_FILE=/etc/dpa.txt`, a
/// reader of Russian gets `/etc/dpa.ru.txt` if there is one, and `/etc/dpa.txt`
/// otherwise (a legal text is the operator's: never replaced by a translation of ours).
/// Without a file, the built-in text in the reader's language.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    /// The file named in the configuration.
    main: Option<String>,
    /// The operator's translations, by language.
    translated: Vec<(Language, String)>,
}

impl Texts {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let Some(file) = file else {
            return Ok(Self::default());
        };
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the agreement {}", path.display()))
        };
        let main = Some(read(file)?);
        let mut translated = Vec::new();
        for language in Language::ALL {
            let path = translation(file, language);
            if path.exists() {
                translated.push((language, read(&path)?));
            }
        }
        Ok(Self { main, translated })
    }

    /// The text a reader of `language` is asked to accept.
    pub fn text(&self, language: Language) -> String {
        let own = self.translated.iter().find(|(l, _)| *l == language).map(|(_, text)| text);
        match own.or(self.main.as_ref()) {
            Some(text) => text.clone(),
            None => Tr(language).t("dpa-text"),
        }
    }
}

/// `dpa.txt` → `dpa.ru.txt`.
fn translation(file: &Path, language: Language) -> PathBuf {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match file.extension() {
        Some(ext) => format!("{stem}.{}.{}", language.code(), ext.to_string_lossy()),
        None => format!("{stem}.{}", language.code()),
    };
    file.with_file_name(name)
}

/// Records that the person signed in (the impersonator, when acting as someone) accepts
/// their account's current agreement.
pub async fn accept(store: &Store, actor: &Actor, now: i64) -> Result<i64> {
    let id = actor.person()?;
    let mut tx = store.write().await?;
    let user = tx.user_for_update(id).await?.ok_or(Error::Unauthenticated)?;
    let account = tx.account_by_id(user.account_id).await?.ok_or(Error::NotFound)?;
    if user.dpa_accepted_version < account.dpa_version {
        let accepted = User { dpa_accepted_version: account.dpa_version, ..user.clone() };
        tx.update_user(&user, &accepted).await?;
        let details = serde_json::json!({ "version": account.dpa_version });
        audit::record(
            &mut tx,
            Event::new(account.id, actor, "dpa.accepted").subject(id).details(details),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(account.dpa_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reader_gets_the_agreement_in_their_language() {
        let built_in = Texts::default();
        assert!(built_in.text(Language::En).contains("personal data"));
        assert!(built_in.text(Language::Ru).contains("персональные данные"));
        assert!(built_in.text(Language::Es).contains("datos personales"));
    }

    #[test]
    fn the_operators_translation_is_chosen_and_their_own_text_stands_in_for_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dpa.txt");
        std::fs::write(&file, "Operator terms").unwrap();
        std::fs::write(dir.path().join("dpa.ru.txt"), "Условия оператора").unwrap();
        let texts = Texts::load(Some(&file)).unwrap();
        assert_eq!(texts.text(Language::Ru), "Условия оператора");
        assert_eq!(texts.text(Language::Es), "Operator terms");
        assert_eq!(texts.text(Language::En), "Operator terms");
    }
}
