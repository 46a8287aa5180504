//! The apps that sign people in through Portcullis. A client belongs to an account and
//! serves the people of that account and of the accounts below it; it is registered by the
//! operator or by the account's own administrators. A confidential client gets a secret,
//! shown once and kept as its SHA-256; a public client (a mobile or single-page app) has
//! none and must use PKCE. Redirect URIs are matched exactly.

use serde::Serialize;

use super::signing::Alg;
use subtle::ConstantTimeEq;
use url::Url;

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    rights::{Actor, ManagesAccount},
    store::{ClientRow, NewClient, Store, Tx},
    tokens::{Token, TokenHash},
    values::AccountId,
};

/// A registered client, as its managers see it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Client {
    pub client_id: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub name: String,
    /// No secret: it proves itself with PKCE alone.
    pub public: bool,
    pub redirect_uris: Vec<String>,
    /// Where it may send people after signing them out.
    pub post_logout_redirect_uris: Vec<String>,
    /// How its ID tokens are signed.
    #[schema(value_type = String, example = "RS256")]
    pub id_token_alg: Alg,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(skip)]
    secret_hash: Option<Vec<u8>>,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        let uris = |json: &str| serde_json::from_str(json).unwrap_or_default();
        Self {
            public: row.secret_hash.is_none(),
            redirect_uris: uris(&row.redirect_uris),
            post_logout_redirect_uris: uris(&row.logout_uris),
            id_token_alg: Alg::parse(&row.id_token_alg).unwrap_or(Alg::Rs256),
            created_at: crate::clock::from_unix(row.created_at),
            secret_hash: row.secret_hash,
            client_id: row.id,
            account_id: row.account_id,
            account_name: row.account_name,
            name: row.name,
        }
    }
}

/// A client to register.
#[derive(Debug, Clone)]
pub struct Registration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    /// `None`: RS256, which every OpenID Connect library understands.
    pub id_token_alg: Option<Alg>,
}

/// A client just registered, with its secret (confidential clients), shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    #[serde(flatten)]
    pub client: Client,
    pub client_secret: Option<String>,
}

/// How a client proved who it is at the token endpoint.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    /// `None`: a public client, or one that sent no secret.
    pub secret: Option<String>,
}

/// Registers a client of the account `proof` manages.
pub async fn register(
    store: &Store,
    actor: &Actor,
    account: AccountId,
    registration: Registration,
    now: i64,
) -> Result<Registered> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "give the client a name of 1 to 100 characters"));
    }
    let redirect_uris = checked_uris("redirect_uris", &registration.redirect_uris)?;
    if redirect_uris.is_empty() {
        return Err(Error::invalid("redirect_uris", "give at least one redirect URI"));
    }
    let logout_uris = checked_uris("post_logout_redirect_uris", &registration.post_logout_redirect_uris)?;
    let mut tx = store.write().await?;
    let proof = ManagesAccount::check(&mut tx, actor, account).await?.from_within()?;
    let id = format!("{:032x}", rand::random::<u128>());
    let secret = (!registration.public).then(Token::generate);
    let new = NewClient {
        id: &id,
        account_id: proof.account().id,
        name,
        secret_hash: secret.as_ref().map(|s| s.hash().0),
        redirect_uris: serde_json::json!(redirect_uris).to_string(),
        logout_uris: serde_json::json!(logout_uris).to_string(),
        id_token_alg: registration.id_token_alg.unwrap_or(Alg::Rs256).as_str(),
    };
    tx.insert_client(&new, now).await?;
    let details = serde_json::json!({
        "client_id": id, "name": name, "public": registration.public, "redirect_uris": redirect_uris,
    });
    audit::record(
        &mut tx,
        Event::new(proof.account().id, actor, "oidc_client.created").details(details),
        now,
    )
    .await?;
    let row = tx.client_by_id(&id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(Registered { client: row.into(), client_secret: secret.map(|s| s.expose().to_owned()) })
}

/// Redirect URIs as a client may register them: absolute, without a fragment, and over
/// https except to this machine (plain http is for a developer's laptop). An app's own
/// scheme (`com.example.app:/callback`) is allowed for native apps.
fn checked_uris(field: &'static str, uris: &[String]) -> Result<Vec<String>> {
    uris.iter()
        .map(|uri| {
            let url = Url::parse(uri)
                .map_err(|_| Error::invalid(field, format!("{uri} is not an absolute URI")))?;
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            let allowed = match url.scheme() {
                "https" => true,
                "http" => loopback,
                "javascript" | "data" | "file" | "vbscript" => false,
                scheme => scheme.contains('.'),
            };
            if url.fragment().is_some() || !allowed {
                return Err(Error::invalid(
                    field,
                    format!("{uri}: use https (http only to localhost) and no fragment"),
                ));
            }
            Ok(uri.clone())
        })
        .collect()
}

/// The live clients of an account (all accounts for the operator).
pub async fn list(store: &Store, actor: &Actor, account: Option<AccountId>) -> Result<Vec<Client>> {
    let mut tx = store.read().await?;
    if let Some(account) = account {
        ManagesAccount::check(&mut tx, actor, account).await?;
    } else if actor.user.is_some() {
        return Err(Error::Forbidden);
    }
    Ok(tx.clients(account).await?.into_iter().map(Client::from).collect())
}

/// Deletes a client (of `account`, when given): its grants are revoked at once, so its
/// tokens stop working.
pub async fn delete(
    store: &Store,
    actor: &Actor,
    account: Option<AccountId>,
    client_id: &str,
    now: i64,
) -> Result<()> {
    let mut tx = store.write().await?;
    // The right first, then the client: whether an app exists is no one else's business.
    if let Some(account) = account {
        ManagesAccount::check(&mut tx, actor, account).await?.from_within()?;
    }
    let client = tx.client_by_id(client_id).await?.filter(|c| account.is_none_or(|a| a == c.account_id));
    let client = client.ok_or(Error::NotFound)?;
    let proof = ManagesAccount::check(&mut tx, actor, client.account_id).await?.from_within()?;
    tx.delete_client(client_id, now).await?;
    let details = serde_json::json!({ "client_id": client_id, "name": client.name });
    audit::record(
        &mut tx,
        Event::new(proof.account().id, actor, "oidc_client.deleted").details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The client behind presented credentials. A confidential client must present its
/// secret (compared in constant time); a public client must present none. Every failure
/// is the same `invalid_client`.
pub async fn authenticate(store: &Store, presented: &Credentials) -> Result<Client> {
    let client: Client =
        store.client_by_id(&presented.client_id).await?.ok_or(Error::InvalidCredentials)?.into();
    if secret_matches(client.secret_hash.as_deref(), presented) {
        Ok(client)
    } else {
        Err(Error::InvalidCredentials)
    }
}

/// Whether the presented secret is the one stored (`None`: a public app, which must present
/// none), compared in constant time.
pub fn secret_matches(stored: Option<&[u8]>, presented: &Credentials) -> bool {
    match (stored, &presented.secret) {
        (None, None) => true,
        (Some(stored), Some(secret)) => bool::from(TokenHash::of(secret).0.ct_eq(stored)),
        _ => false,
    }
}

/// A client by id, for the authorization endpoint (which sees no secret).
pub async fn find(tx: &mut Tx, client_id: &str) -> Result<Option<Client>> {
    Ok(tx.client_by_id(client_id).await?.map(Client::from))
}
