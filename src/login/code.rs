//! Finishing a sign-in with its second factor.

use super::{
    admission::{blocked_notice, passkey_asked, record, start},
    attempt::{Context, Origin, Proof, SignedIn},
};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    impersonation, lifecycle,
    mfa::{
        challenge::{self, Answer},
        devices,
    },
    policy,
    rights::Actor,
    values::AppKind,
};

/// Finishes a sign-in with the code of its challenge, trusting the device from now on
/// when the user asks and the company allows.
pub async fn verify(
    cx: Context<'_>,
    handle: &str,
    answer: Answer<'_>,
    trust_device: bool,
    now: i64,
) -> Result<SignedIn> {
    let result = check_code(cx, handle, answer, trust_device, now).await;
    crate::metrics::sign_in(match &result {
        Ok(_) => "ok",
        Err(Error::InvalidCode { .. }) => "invalid_code",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::CodeExpired) => "code_expired",
        Err(_) => "error",
    });
    result
}

async fn check_code(
    cx: Context<'_>,
    handle: &str,
    answer: Answer<'_>,
    trust_device: bool,
    now: i64,
) -> Result<SignedIn> {
    let accepted = challenge::accept(cx.store, handle, answer, now).await?;
    let (mut tx, challenge, user) = (accepted.tx, accepted.challenge, accepted.user);
    // The grant may have been taken away while the code was on its way.
    let acting_as = match challenge.acting_as_id {
        Some(target) => Some(impersonation::allowed_target(&mut tx, user.id, target, now).await?),
        None => None,
    };
    let origin = Origin {
        proof: Proof::Password,
        app: AppKind::parse(&challenge.app),
        ip: &challenge.ip,
        user_agent: &challenge.user_agent,
        remember_me: challenge.remember,
        acting_as: acting_as.as_ref(),
    };
    if lifecycle::is_blocked(&mut tx, user.account_id, now).await? {
        let notice = blocked_notice(&mut tx, &user).await?;
        record(&mut tx, &user, origin, "sign_in.failed", "account_blocked", now).await?;
        tx.commit().await?;
        return Err(notice);
    }
    let policy = policy::of_account(&mut tx, user.account_id).await?;
    let passkey_due = passkey_asked(&mut tx, &policy, &user, origin.app).await? == Some(false);
    let device_token = if trust_device && policy.allow_trusted_devices {
        let token = devices::trust(&mut tx, user.id, origin.user_agent, origin.ip, now).await?;
        let actor = Actor::user(user.id, None, Some(origin.ip.to_owned()));
        let details =
            serde_json::json!({ "user_agent": origin.user_agent, "days": devices::LIFETIME / 86_400 });
        let event =
            Event::new(user.account_id, &actor, "trusted_device.added").subject(user.id).details(details);
        audit::record(&mut tx, event, now).await?;
        Some(token)
    } else {
        None
    };
    let passed = match (accepted.by_passkey, accepted.backup_codes_left) {
        (true, _) => "passkey",
        (false, Some(_)) => "backup_code",
        (false, None) => challenge.channel.as_str(),
    };
    let signed_in = start(cx, tx, &user, origin, (Some(passed), passkey_due), now).await?;
    Ok(SignedIn { device_token, backup_codes_left: accepted.backup_codes_left, ..signed_in })
}
