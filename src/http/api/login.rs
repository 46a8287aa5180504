//! Signing in: `POST /api/v1/login`, then `/login/verify` with the code of a second
//! factor and `/login/resend` for a new one.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use time::OffsetDateTime;

use crate::{
    app::App,
    clock::{from_unix, to_unix},
    error::{Error, Result},
    http::extract::{ApiJson, Client},
    login::{self, Arrival, Attempt, Outcome},
    mfa::{
        Method, backup,
        challenge::{self, Answer, Fallback, Opened, Sent},
    },
    passkeys::{PublicKeyCredential, RequestOptions},
    passwords::Password,
    sessions::Current,
    values::{AppKind, Duty},
    verification::Channel,
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Case-sensitive.
    username: String,
    #[schema(value_type = String, format = Password)]
    password: Password,
    /// Keep the session for up to 30 days instead of ending it after 5 idle minutes.
    #[serde(default)]
    remember_me: bool,
    #[serde(default)]
    app: AppKind,
    /// The `device_token` of an earlier sign-in on this device that chose to trust it:
    /// no code is asked.
    device_token: Option<String>,
    /// "Login as": the username of a user the signer holds `act_as` on. The session acts
    /// as that user; the second factor, if any, is the signer's own.
    login_as: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedInBody {
    /// Always `ok`.
    status: &'static str,
    /// The session token: send it as `Authorization: Bearer <token>`. Shown only here.
    token: String,
    session: Current,
    /// Duties to finish before anything else: `accept_dpa`, `change_password`.
    pending: Vec<Duty>,
    /// After `trust_device`: send it as `device_token` with later sign-ins. Shown only here.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<String>,
    /// After a backup code: how many remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_codes_left: Option<i64>,
    /// After a backup code, when 2 or fewer remain: make a new set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    backup_codes_running_out: bool,
}

impl From<login::SignedIn> for SignedInBody {
    fn from(s: login::SignedIn) -> Self {
        Self {
            status: "ok",
            token: s.token.expose().to_owned(),
            pending: s.session.pending.clone(),
            session: s.session,
            device_token: s.device_token.map(|t| t.expose().to_owned()),
            backup_codes_left: s.backup_codes_left,
            backup_codes_running_out: s.backup_codes_left.is_some_and(|n| n <= backup::FEW_LEFT),
        }
    }
}

/// A code on its way: where it went and when another may be asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentBody {
    channel: Channel,
    /// Masked: `+35*******78`, `d*****@fleet.example`.
    destination: String,
    /// Why an SMS user's code went by email: `quota_used_up`, `gateway_failed`...
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<Fallback>,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    resend_at: OffsetDateTime,
}

impl From<Sent> for SentBody {
    fn from(s: Sent) -> Self {
        Self {
            channel: s.channel,
            destination: s.destination,
            fallback: s.fallback,
            expires_at: from_unix(s.expires_at),
            resend_at: from_unix(s.resend_at),
        }
    }
}

/// The password was right; a code is on its way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecondFactorBody {
    /// Always `second_factor`.
    status: &'static str,
    /// Send it back with the code to `/api/v1/login/verify`.
    challenge: String,
    /// The user's second factor: `email`, `sms`, `totp` (nothing is sent: the code comes
    /// from the authenticator app; a backup code also answers) or `passkey` (answer the
    /// options in `publicKey`, or ask `/api/v1/login/resend` for a code instead).
    method: Method,
    #[serde(flatten)]
    sent: Option<SentBody>,
    /// What `/api/v1/login/resend` may be asked for.
    channels: Vec<Channel>,
    /// For `passkey`: the options for the browser's `navigator.credentials.get()`.
    #[serde(rename = "publicKey", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    public_key: Option<RequestOptions>,
}

impl From<Opened> for SecondFactorBody {
    fn from(o: Opened) -> Self {
        Self {
            status: "second_factor",
            challenge: o.handle.expose().to_owned(),
            method: o.method,
            sent: o.sent.map(SentBody::from),
            channels: o.channels,
            public_key: o.passkey,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    SignedIn(SignedInBody),
    SecondFactor(SecondFactorBody),
}

impl From<Outcome> for LoginAnswer {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::SignedIn(signed_in) => Self::SignedIn(signed_in.into()),
            Outcome::SecondFactor(opened) => Self::SecondFactor(opened.into()),
        }
    }
}

/// Sign in with a username and password.
#[utoipa::path(post, path = "/api/v1/login", tag = "sign-in", request_body = LoginBody, responses(
    (status = 200, description = "Signed in (`status: ok`), or a code is on its way (`status: second_factor`)", body = LoginAnswer),
    (status = 401, description = "`invalid_credentials`: the same answer for an unknown user", body = super::doc::ErrorBody),
    (status = 403, description = "`account_blocked`, with `blocked_from` (RFC 3339) and the company's `contact`; `second_factor_unavailable` when no address can receive a code; `forbidden` for a `login_as` user one may not act as, `target_account_blocked` when that user's account is blocked", body = super::doc::ErrorBody),
    (status = 423, description = "`locked`, with `retry_after` seconds", body = super::doc::ErrorBody),
))]
pub async fn login(
    State(app): State<App>,
    client: Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<LoginAnswer>> {
    let attempt = Attempt {
        username: body.username,
        password: body.password,
        arrival: Arrival {
            remember_me: body.remember_me,
            app: body.app,
            ip: client.ip.to_string(),
            user_agent: client.user_agent,
            language: None,
            device: body.device_token,
            login_as: body.login_as,
        },
    };
    Ok(Json(login::sign_in(app.login(), attempt, to_unix(app.now())).await?.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    challenge: String,
    /// The six digits sent or shown by the authenticator app, or a backup code; spaces
    /// and dashes are forgiven. Either this or `credential`.
    code: Option<String>,
    /// A passkey's answer to the challenge's `publicKey` options
    /// (`AuthenticationResponseJSON`).
    #[schema(value_type = Option<Object>)]
    credential: Option<Box<PublicKeyCredential>>,
    /// Don't ask on this device for 30 days: the answer carries a `device_token` to send
    /// with later sign-ins (when the company allows it).
    #[serde(default)]
    trust_device: bool,
}

/// Finish a sign-in with its second factor: a code, or a passkey's answer.
#[utoipa::path(post, path = "/api/v1/login/verify", tag = "sign-in", request_body = VerifyBody, responses(
    (status = 200, description = "Signed in", body = SignedInBody),
    (status = 401, description = "`invalid_code`, with `attempts_left`, and from the 3rd failure the company's `contact`", body = super::doc::ErrorBody),
    (status = 410, description = "`code_expired`: ask for a new code, or sign in again", body = super::doc::ErrorBody),
    (status = 423, description = "`locked` after 5 wrong codes, with `retry_after` seconds", body = super::doc::ErrorBody),
))]
pub async fn verify(
    State(app): State<App>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<SignedInBody>> {
    let rp;
    let answer = match (&body.code, &body.credential) {
        (Some(code), None) => Answer::Code(code),
        (None, Some(credential)) => {
            rp = app.relying_party()?;
            Answer::Passkey(credential, rp)
        }
        _ => return Err(Error::invalid("code", "send either a code or a passkey's credential")),
    };
    let now = to_unix(app.now());
    let signed_in = login::verify(app.login(), &body.challenge, answer, body.trust_device, now).await?;
    Ok(Json(signed_in.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {
    challenge: String,
    /// `email` for an SMS user who would rather get it by email; by default the
    /// user's own method.
    channel: Option<Channel>,
}

/// Send a new code; the previous one stops working.
#[utoipa::path(post, path = "/api/v1/login/resend", tag = "sign-in", request_body = ResendBody, responses(
    (status = 200, description = "Sent", body = SentBody),
    (status = 410, description = "`code_expired`: the sign-in ran out; sign in again", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: the company does not send codes by that channel", body = super::doc::ErrorBody),
    (status = 429, description = "`too_soon`, with `retry_after` seconds", body = super::doc::ErrorBody),
))]
pub async fn resend(State(app): State<App>, ApiJson(body): ApiJson<ResendBody>) -> Result<Json<SentBody>> {
    let sent =
        challenge::resend(&app.store, &app.delivery, &body.challenge, body.channel, to_unix(app.now()))
            .await?;
    Ok(Json(sent.into()))
}
