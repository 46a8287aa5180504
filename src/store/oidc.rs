//! Queries of the OpenID Connect provider: clients, signing keys, authorization codes,
//! grants with their refresh tokens, and consents. Secrets (client secrets, codes,
//! refresh tokens) are found by their SHA-256 and never stored otherwise.

use sqlx::FromRow;

use super::{
    clients::{CLIENT_BY_ID, CODE_SESSION, ClientRow, select_clients},
    db::{Backend, SqliteStore, Store, Tx, with_pool, with_tx},
    session_check::{
        GrantView, PG_SESSION_BY_GRANT, PG_SESSION_BY_ID, SESSION_BY_GRANT, SESSION_BY_ID, SessionView,
    },
};
use crate::{
    error::Result,
    values::{AccountId, UserId},
};

/// A client about to be registered.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    pub id: &'a str,
    pub account_id: AccountId,
    pub name: &'a str,
    pub secret_hash: Option<[u8; 32]>,
    pub redirect_uris: String,
    pub logout_uris: String,
    pub id_token_alg: &'a str,
}

#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub sealed: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// What an authorization code was issued for.
#[derive(Debug, Clone, FromRow)]
pub struct CodeRow {
    pub client_id: String,
    pub session_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_id: Option<i64>,
}

/// A code about to be issued.
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub session_id: i64,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
}

#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub client_id: String,
    pub session_id: i64,
    pub scope: String,
    pub nonce: Option<String>,
    pub revoked_at: Option<i64>,
}

/// A refresh token as found: its grant, and whether it was used already.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub grant_id: i64,
    pub used_at: Option<i64>,
}

/// Whom a session is for, ended or not.
#[derive(Debug, Clone, FromRow)]
pub struct SessionPeople {
    /// The person who signed in.
    pub user_id: UserId,
    pub acting_as_id: Option<UserId>,
    /// The account of the effective user.
    pub account_id: AccountId,
}

impl SessionPeople {
    /// The user acted for: the one acted as, else the person.
    pub fn effective(&self) -> UserId {
        self.acting_as_id.unwrap_or(self.user_id)
    }
}

/// A grant joined with its session, as the PostgreSQL query returns it.
#[derive(FromRow)]
struct GrantFound {
    #[sqlx(flatten)]
    view: SessionView,
    #[sqlx(flatten)]
    grant: GrantView,
}

/// A code's columns.
macro_rules! code_columns {
    () => {
        "client_id, session_id, redirect_uri, scope, nonce, code_challenge, expires_at, used_at, grant_id"
    };
}

impl Store {
    /// The live session behind a live grant, with the grant: the read of introspection
    /// and userinfo, as cheap as the session check's.
    pub async fn session_by_grant(
        &self,
        grant: i64,
        caller: &str,
    ) -> Result<Option<(SessionView, GrantView)>> {
        if let Backend::Sqlite(SqliteStore { reads: Some(reads), .. }) = &self.backend {
            return Ok(reads.session_by_grant(grant, caller)?);
        }
        let sql = match &self.backend {
            Backend::Sqlite(_) => SESSION_BY_GRANT,
            Backend::Postgres(_) => PG_SESSION_BY_GRANT,
        };
        let found: Option<GrantFound> = with_pool!(self, pool => sqlx::query_as(sql).bind(grant).bind(caller).fetch_optional(pool).await)?;
        Ok(found.map(|f| (f.view, f.grant)))
    }

    /// A live session by its id.
    pub async fn session_by_id(&self, id: i64) -> Result<Option<SessionView>> {
        if let Backend::Sqlite(SqliteStore { reads: Some(reads), .. }) = &self.backend {
            return Ok(reads.session_by_id(id)?);
        }
        let sql = match &self.backend {
            Backend::Sqlite(_) => SESSION_BY_ID,
            Backend::Postgres(_) => PG_SESSION_BY_ID,
        };
        Ok(with_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    /// The session a code was issued to, used or not.
    pub async fn code_session(&self, hash: &[u8; 32]) -> Result<Option<i64>> {
        if let Backend::Sqlite(SqliteStore { reads: Some(reads), .. }) = &self.backend {
            return Ok(reads.code_session(hash)?);
        }
        Ok(
            with_pool!(self, pool => sqlx::query_scalar(CODE_SESSION).bind(&hash[..]).fetch_optional(pool).await)?,
        )
    }

    /// A registered client, unless deleted.
    pub async fn client_by_id(&self, id: &str) -> Result<Option<ClientRow>> {
        if let Backend::Sqlite(SqliteStore { reads: Some(reads), .. }) = &self.backend {
            return Ok(reads.client_by_id(id)?);
        }
        Ok(with_pool!(self, pool => sqlx::query_as(CLIENT_BY_ID).bind(id).fetch_optional(pool).await)?)
    }

    /// The signing keys still published at `now`, oldest first.
    pub async fn published_keys(&self, now: i64) -> Result<Vec<KeyRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT kid, alg, sealed, public_jwk, created_at, retired_at FROM oidc_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at, kid",
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }
}

impl Tx {
    pub async fn insert_client(&mut self, c: &NewClient<'_>, now: i64) -> Result<()> {
        with_tx!(self, conn => sqlx::query(
            "INSERT INTO oidc_clients (id, account_id, name, secret_hash, redirect_uris, logout_uris, \
             id_token_alg, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id)
        .bind(c.account_id)
        .bind(c.name)
        .bind(c.secret_hash.as_ref().map(|h| &h[..]))
        .bind(c.redirect_uris.as_str())
        .bind(c.logout_uris.as_str())
        .bind(c.id_token_alg)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The live clients of an account (`None`: of every account), oldest first.
    pub async fn clients(&mut self, account: Option<AccountId>) -> Result<Vec<ClientRow>> {
        let sql = concat!(
            select_clients!(),
            "WHERE c.deleted_at IS NULL AND ($1 IS NULL OR c.account_id = $1) ORDER BY c.created_at, c.id"
        );
        Ok(with_tx!(self, conn => sqlx::query_as(sql).bind(account).fetch_all(conn).await)?)
    }

    pub async fn client_by_id(&mut self, id: &str) -> Result<Option<ClientRow>> {
        Ok(with_tx!(self, conn => sqlx::query_as(CLIENT_BY_ID).bind(id).fetch_optional(conn).await)?)
    }

    /// Deletes a client and revokes its grants; false if there was none.
    pub async fn delete_client(&mut self, id: &str, now: i64) -> Result<bool> {
        let deleted = with_tx!(self, conn => sqlx::query(
            "UPDATE oidc_clients SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(self, conn => sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(deleted == 1)
    }

    pub async fn insert_key(&mut self, key: &KeyRow) -> Result<()> {
        with_tx!(self, conn => sqlx::query(
            "INSERT INTO oidc_keys (kid, alg, sealed, public_jwk, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(&key.sealed[..])
        .bind(key.public_jwk.as_str())
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The algorithms that have a key not retired.
    pub async fn signing_algs(&mut self) -> Result<Vec<String>> {
        Ok(
            with_tx!(self, conn => sqlx::query_scalar("SELECT DISTINCT alg FROM oidc_keys WHERE retired_at IS NULL")
            .fetch_all(conn)
            .await)?,
        )
    }

    /// Retires every key not retired yet: published until `at`, and signing only until
    /// keys published after it take over.
    pub async fn retire_keys(&mut self, at: i64) -> Result<u64> {
        Ok(with_tx!(self, conn => sqlx::query(
            "UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL",
        )
        .bind(at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    pub async fn insert_code(
        &mut self,
        hash: &[u8; 32],
        code: &NewCode<'_>,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, conn => sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, session_id, redirect_uri, scope, nonce, code_challenge, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&hash[..])
        .bind(code.client_id)
        .bind(code.session_id)
        .bind(code.redirect_uri)
        .bind(code.scope)
        .bind(code.nonce)
        .bind(code.code_challenge)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks a code used and answers what it was for; a code used before is answered
    /// with its `used_at` set and left as it was.
    pub async fn use_code(&mut self, hash: &[u8; 32], now: i64) -> Result<Option<CodeRow>> {
        let taken: Option<CodeRow> = with_tx!(self, conn => sqlx::query_as(concat!(
            "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING ",
            code_columns!()
        ))
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(conn)
        .await)?;
        if let Some(mut row) = taken {
            row.used_at = None;
            return Ok(Some(row));
        }
        Ok(
            with_tx!(self, conn => sqlx::query_as(concat!("SELECT ", code_columns!(), " FROM oidc_codes WHERE code_hash = $1"))
            .bind(&hash[..])
            .fetch_optional(conn)
            .await)?,
        )
    }

    pub async fn set_code_grant(&mut self, hash: &[u8; 32], grant: i64) -> Result<()> {
        with_tx!(self, conn => sqlx::query("UPDATE oidc_codes SET grant_id = $2 WHERE code_hash = $1")
            .bind(&hash[..])
            .bind(grant)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_oidc_grant(&mut self, code: &CodeRow, now: i64) -> Result<i64> {
        Ok(with_tx!(self, conn => sqlx::query_scalar(
            "INSERT INTO oidc_grants (client_id, session_id, scope, nonce, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(code.client_id.as_str())
        .bind(code.session_id)
        .bind(code.scope.as_str())
        .bind(code.nonce.as_deref())
        .bind(now)
        .fetch_one(conn)
        .await)?)
    }

    pub async fn oidc_grant(&mut self, id: i64) -> Result<Option<GrantRow>> {
        Ok(with_tx!(self, conn => sqlx::query_as(
            "SELECT id, client_id, session_id, scope, nonce, revoked_at FROM oidc_grants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(conn)
        .await)?)
    }

    /// Revokes a grant; false if it was revoked already.
    pub async fn revoke_oidc_grant(&mut self, id: i64, now: i64) -> Result<bool> {
        Ok(with_tx!(self, conn => sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?
            == 1)
    }

    /// Revokes every grant made through a session (when it is signed out of).
    pub async fn revoke_oidc_grants_of_session(&mut self, session: i64, now: i64) -> Result<u64> {
        Ok(with_tx!(self, conn => sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(session)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    pub async fn session_people(&mut self, session: i64) -> Result<Option<SessionPeople>> {
        Ok(with_tx!(self, conn => sqlx::query_as(
            "SELECT s.user_id, s.acting_as_id, COALESCE(e.account_id, u.account_id) AS account_id \
             FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN users e ON e.id = s.acting_as_id \
             WHERE s.id = $1",
        )
        .bind(session)
        .fetch_optional(conn)
        .await)?)
    }

    pub async fn insert_refresh_token(&mut self, hash: &[u8; 32], grant: i64, now: i64) -> Result<()> {
        with_tx!(self, conn => sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&hash[..])
        .bind(grant)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks a refresh token used; a token used before is answered with `used_at` set.
    pub async fn use_refresh_token(&mut self, hash: &[u8; 32], now: i64) -> Result<Option<RefreshRow>> {
        let taken: Option<i64> = with_tx!(self, conn => sqlx::query_scalar(
            "UPDATE oidc_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING grant_id",
        )
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(conn)
        .await)?;
        if let Some(grant_id) = taken {
            return Ok(Some(RefreshRow { grant_id, used_at: None }));
        }
        self.refresh_token(hash).await
    }

    pub async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshRow>> {
        Ok(with_tx!(self, conn => sqlx::query_as(
            "SELECT grant_id, used_at FROM oidc_refresh_tokens WHERE token_hash = $1",
        )
        .bind(&hash[..])
        .fetch_optional(conn)
        .await)?)
    }

    /// The scope a person consented to give a client, if they did.
    pub async fn consent(&mut self, user: UserId, client: &str) -> Result<Option<String>> {
        Ok(with_tx!(self, conn => sqlx::query_scalar(
            "SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user)
        .bind(client)
        .fetch_optional(conn)
        .await)?)
    }

    pub async fn give_consent(&mut self, user: UserId, client: &str, scope: &str, now: i64) -> Result<()> {
        with_tx!(self, conn => sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scope, given_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, given_at = excluded.given_at",
        )
        .bind(user)
        .bind(client)
        .bind(scope)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
