//! Passkeys: registering and removing one's own (`/api/v1/me/passkeys`), and signing in
//! with one instead of a password (`/api/v1/login/passkey`). The options and answers are
//! WebAuthn Level 3's JSON forms (`PublicKeyCredential.parseCreationOptionsFromJSON`,
//! `credential.toJSON()`), binary fields in base64url.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use super::login::LoginAnswer;
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    error::Result,
    http::extract::{AnySession, ApiJson, ApiPath, Client, Session},
    login::{self, Arrival, PasskeyAttempt},
    passkeys::{
        self, CreationChallengeResponse, PasskeyInfo, PublicKeyCredential, RegisterPublicKeyCredential,
        RequestOptions, registration,
    },
    passwords::Password,
    sessions::Current,
    values::{AppKind, Duty},
};

/// Options for the browser's `navigator.credentials.create()`, valid for 5 minutes; a
/// new request replaces them.
#[utoipa::path(post, path = "/api/v1/me/passkeys/registration/options", tag = "passkeys",
    security(("bearer" = [])), responses(
    (status = 200, description = "`{\"publicKey\": PublicKeyCredentialCreationOptionsJSON}`", body = Object),
    (status = 403, description = "`forbidden`: a session acting as someone else adds no passkeys", body = super::doc::ErrorBody),
))]
pub async fn registration_options(
    State(app): State<App>,
    session: AnySession,
    client: Client,
) -> Result<Json<CreationChallengeResponse>> {
    owing_at_most_a_passkey(&session.0)?;
    let rp = app.relying_party()?;
    let actor = session.actor(&client);
    Ok(Json(registration::begin(&app.store, rp, &actor, session.0.id, to_unix(app.now())).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// What the owner calls it ("Work laptop"); by default "Passkey N".
    name: Option<String>,
    /// The browser's answer: `RegistrationResponseJSON`.
    #[schema(value_type = Object)]
    credential: Box<RegisterPublicKeyCredential>,
}

/// Finish adding a passkey with the browser's answer to the latest options.
#[utoipa::path(post, path = "/api/v1/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    request_body = RegisterBody, responses(
    (status = 201, body = PasskeyInfo),
    (status = 409, description = "`conflict`: the passkey is registered already", body = super::doc::ErrorBody),
    (status = 410, description = "`code_expired`: no registration under way (or it ran out): ask for new options", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: the answer does not prove the passkey (origin, challenge, signature, user verification) or the name is too long", body = super::doc::ErrorBody),
))]
pub async fn register(
    State(app): State<App>,
    session: AnySession,
    client: Client,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<PasskeyInfo>)> {
    owing_at_most_a_passkey(&session.0)?;
    let rp = app.relying_party()?;
    let actor = session.actor(&client);
    let (name, now) = (body.name.as_deref(), to_unix(app.now()));
    let added =
        registration::finish(&app.store, rp, &actor, session.0.id, name, &body.credential, now).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// A session may add a passkey with that very duty pending, and with no other.
fn owing_at_most_a_passkey(current: &Current) -> Result<()> {
    let others = current.pending.iter().any(|d| *d != Duty::RegisterPasskey);
    if others {
        return Err(Error::PendingDuty { pending: current.pending.clone() });
    }
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Passkeys {
    passkeys: Vec<PasskeyInfo>,
}

/// The signed-in user's passkeys, oldest first.
#[utoipa::path(get, path = "/api/v1/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = Passkeys)))]
pub async fn list(State(app): State<App>, Session(current): Session) -> Result<Json<Passkeys>> {
    Ok(Json(Passkeys { passkeys: passkeys::list(&app.store, current.user.id).await? }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    #[schema(value_type = String, format = Password)]
    current_password: Password,
}

/// Remove one of one's passkeys; needs the current password.
#[utoipa::path(delete, path = "/api/v1/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The passkey")), request_body = RemoveBody, responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "`not_found`: no such passkey of this user", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: the password is wrong", body = super::doc::ErrorBody),
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
))]
pub async fn remove(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RemoveBody>,
) -> Result<StatusCode> {
    let actor = session.actor(&client);
    passkeys::remove(&app.store, &app.hasher, &actor, id, body.current_password, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInOptionsBody {
    /// Accepted and not used: the options never list anyone's passkeys, so they say
    /// nothing of which usernames exist; the person picks a passkey and it names them.
    #[allow(dead_code)]
    username: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignInOptions {
    /// Send it back with the answer to `/api/v1/login/passkey`; good for 5 minutes, once.
    challenge: String,
    /// For `navigator.credentials.get({publicKey})`, or with `mediation: "conditional"`
    /// for the browser's autofill list.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: RequestOptions,
}

/// Begin a sign-in with a passkey, without a password.
#[utoipa::path(post, path = "/api/v1/login/passkey/options", tag = "sign-in", request_body = SignInOptionsBody,
    responses(
        (status = 200, body = SignInOptions),
        (status = 429, description = "`too_soon`: this address began too many sign-ins this minute; `retry_after` seconds", body = super::doc::ErrorBody),
    ))]
pub async fn sign_in_options(
    State(app): State<App>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Json<SignInOptions>> {
    // An empty body is as good as `{}`.
    if !body.is_empty() {
        let _: SignInOptionsBody =
            serde_json::from_slice(&body).map_err(|e| crate::error::Error::invalid("body", e.to_string()))?;
    }
    let rp = app.relying_party()?;
    let (handle, public_key) =
        passkeys::sign_in::begin(&app.store, rp, &client.ip.to_string(), to_unix(app.now())).await?;
    Ok(Json(SignInOptions { challenge: handle.expose().to_owned(), public_key }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInBody {
    challenge: String,
    /// The browser's answer: `AuthenticationResponseJSON`.
    #[schema(value_type = Object)]
    credential: Box<PublicKeyCredential>,
    #[serde(default)]
    remember_me: bool,
    #[serde(default)]
    app: AppKind,
    /// "Login as": the username of a user the signer holds `act_as` on.
    login_as: Option<String>,
}

/// Sign in with a passkey: the same answers as `/api/v1/login`, and never a second
/// factor (the passkey verified its user).
#[utoipa::path(post, path = "/api/v1/login/passkey", tag = "sign-in", request_body = PasskeySignInBody, responses(
    (status = 200, description = "Signed in", body = LoginAnswer),
    (status = 401, description = "`invalid_credentials`: an unknown passkey, or an answer that does not prove it", body = super::doc::ErrorBody),
    (status = 403, description = "`account_blocked`, or `forbidden` for a `login_as` user one may not act as", body = super::doc::ErrorBody),
    (status = 410, description = "`code_expired`: the options ran out or were used; ask for new ones", body = super::doc::ErrorBody),
    (status = 423, description = "`locked`, with `retry_after` seconds", body = super::doc::ErrorBody),
))]
pub async fn sign_in(
    State(app): State<App>,
    client: Client,
    ApiJson(body): ApiJson<PasskeySignInBody>,
) -> Result<Json<LoginAnswer>> {
    let rp = app.relying_party()?;
    let attempt = PasskeyAttempt {
        handle: body.challenge,
        answer: *body.credential,
        arrival: Arrival {
            remember_me: body.remember_me,
            app: body.app,
            ip: client.ip.to_string(),
            user_agent: client.user_agent,
            language: None,
            device: None,
            login_as: body.login_as,
        },
    };
    Ok(Json(login::with_passkey(app.login(), rp, attempt, to_unix(app.now())).await?.into()))
}
