//! The demo company: something to sign in to on a fresh server. A top user, a
//! subordinate, and a dispatcher who confirms sign-in with an SMS code (the top user may
//! act as both), the services on with a single SMS left so that the fallback to email
//! shows on the second sign-in, and an account below, blocked in 30 days, whose terms the
//! top user sets on the accounts page.

use serde::Serialize;

use crate::{
    accounts::{self, AccountRequest},
    error::{Error, Result},
    mfa::{self, Method},
    passwords::Hasher,
    policy::{self, CodeDelivery, PolicyChange},
    rights::Actor,
    store::Store,
    users::{self, UserRequest},
    values::{AppKind, Contact, Right},
};

pub const ACCOUNT: &str = "Demo Fleet";
pub const ADMIN: &str = "demo";
pub const ADMIN_PASSWORD: &str = "Portcullis-Demo-Gate-7";
pub const DRIVER: &str = "driver";
pub const DRIVER_PASSWORD: &str = "Portcullis-Driver-Road-7";
pub const DISPATCHER: &str = "dispatcher";
pub const DISPATCHER_PASSWORD: &str = "Portcullis-Dispatch-Desk-7";
pub const BRANCH: &str = "Demo Fleet East";
pub const BRANCH_ADMIN: &str = "east";
pub const BRANCH_ADMIN_PASSWORD: &str = "Portcullis-East-Depot-7";
/// Days until the branch account is blocked.
pub const BRANCH_DAYS: i64 = 30;
/// SMS messages the demo company starts with.
pub const SMS_QUOTA: i64 = 1;

/// What was seeded, for printing.
#[derive(Debug, Serialize)]
pub struct Seeded {
    pub account: String,
    pub admin: (String, String),
    pub subordinate: (String, String),
    /// Signs in with a code by SMS (by email once the SMS quota is used up).
    pub with_sms_code: (String, String),
    /// The top user of an account below, whose blocking date the demo top user sets.
    pub branch_admin: (String, String),
}

/// Seeds the demo company; `Conflict` if it exists already.
pub async fn seed(store: &Store, hasher: &Hasher, now: i64) -> Result<Seeded> {
    let operator = Actor::operator();
    let request = AccountRequest {
        name: ACCOUNT.into(),
        sms_quota: Some(SMS_QUOTA),
        email_notifications: true,
        admin: UserRequest {
            username: ADMIN.into(),
            password: Some(ADMIN_PASSWORD.to_owned().into()),
            email: Some("demo@portcullis.example".into()),
            email_verified: true,
            can_change_password: true,
            can_send_sms: true,
            must_change_password: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    let (account, admin) = accounts::create(store, hasher, &operator, &request, now).await?;
    let as_admin = Actor::user(admin.id, None, None);
    let driver = UserRequest {
        username: DRIVER.into(),
        password: Some(DRIVER_PASSWORD.to_owned().into()),
        email: Some("driver@portcullis.example".into()),
        email_verified: true,
        can_change_password: true,
        must_change_password: Some(false),
        ..Default::default()
    };
    let driver = users::create(store, hasher, &as_admin, account.id, Some(admin.id), &driver, now).await?;
    users::set_grants(store, &as_admin, admin.id, driver.id, &[Right::ActAs], now).await?;
    let policy = PolicyChange {
        delivery: Some(CodeDelivery::SmsThenEmail),
        contact: Some(Contact {
            name: "Demo Fleet dispatch desk".into(),
            phone: "+35315550100".into(),
            email: "help@portcullis.example".into(),
        }),
        ..Default::default()
    };
    policy::put(store, &as_admin, account.id, &policy, now).await?;
    let dispatcher = UserRequest {
        username: DISPATCHER.into(),
        password: Some(DISPATCHER_PASSWORD.to_owned().into()),
        email: Some("dispatcher@portcullis.example".into()),
        email_verified: true,
        phone: Some("+35315550123".into()),
        phone_verified: true,
        can_send_sms: true,
        can_change_password: true,
        must_change_password: Some(false),
        ..Default::default()
    };
    let dispatcher =
        users::create(store, hasher, &as_admin, account.id, Some(admin.id), &dispatcher, now).await?;
    let as_dispatcher = Actor::user(dispatcher.id, None, None);
    let sms = [(AppKind::Web, Some(Method::Sms)), (AppKind::Manager, Some(Method::Sms))];
    mfa::set(store, hasher, &as_dispatcher, &sms, None, now).await?;
    users::set_grants(store, &as_admin, admin.id, dispatcher.id, &[Right::ActAs], now).await?;
    let branch = AccountRequest {
        name: BRANCH.into(),
        parent: Some(account.id),
        blocking_at: Some(now + BRANCH_DAYS * 86_400),
        email_notifications: true,
        admin: UserRequest {
            username: BRANCH_ADMIN.into(),
            password: Some(BRANCH_ADMIN_PASSWORD.to_owned().into()),
            email: Some("east@portcullis.example".into()),
            email_verified: true,
            can_change_password: true,
            must_change_password: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    accounts::create(store, hasher, &as_admin, &branch, now).await?;
    Ok(Seeded {
        account: ACCOUNT.into(),
        admin: (ADMIN.into(), ADMIN_PASSWORD.into()),
        subordinate: (DRIVER.into(), DRIVER_PASSWORD.into()),
        with_sms_code: (DISPATCHER.into(), DISPATCHER_PASSWORD.into()),
        branch_admin: (BRANCH_ADMIN.into(), BRANCH_ADMIN_PASSWORD.into()),
    })
}

/// Seeds the demo company unless it is there already.
pub async fn seed_if_missing(store: &Store, hasher: &Hasher, now: i64) -> Result<Option<Seeded>> {
    match seed(store, hasher, now).await {
        Ok(seeded) => Ok(Some(seeded)),
        Err(Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
