//! The demo company: something to sign in to on a fresh server. A top user, a
//! subordinate it created, an `act_as` grant between them, and the services on.

use serde::Serialize;

use crate::{
    accounts::{self, AccountRequest},
    app::App,
    clock::to_unix,
    error::{Error, Result},
    rights::Actor,
    users::{self, Right, UserRequest},
};

pub const ACCOUNT: &str = "Demo Fleet";
pub const ADMIN: &str = "demo";
pub const ADMIN_PASSWORD: &str = "Portcullis-Demo-Gate-7";
pub const DRIVER: &str = "driver";
pub const DRIVER_PASSWORD: &str = "Portcullis-Driver-Road-7";

/// What was seeded, for printing.
#[derive(Debug, Serialize)]
pub struct Seeded {
    pub account: String,
    pub admin: (String, String),
    pub subordinate: (String, String),
}

/// Seeds the demo company; `Conflict` if it exists already.
pub async fn seed(app: &App) -> Result<Seeded> {
    let now = to_unix(app.now());
    let operator = Actor::operator();
    let request = AccountRequest {
        name: ACCOUNT.into(),
        sms_quota: Some(10),
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
    let (account, admin) = accounts::create(&app.store, &app.hasher, &operator, &request, now).await?;
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
    let driver =
        users::create(&app.store, &app.hasher, &as_admin, account.id, Some(admin.id), &driver, now).await?;
    users::set_grants(&app.store, &as_admin, admin.id, driver.id, &[Right::ActAs], now).await?;
    Ok(Seeded {
        account: ACCOUNT.into(),
        admin: (ADMIN.into(), ADMIN_PASSWORD.into()),
        subordinate: (DRIVER.into(), DRIVER_PASSWORD.into()),
    })
}

/// Seeds the demo company unless it is there already.
pub async fn seed_if_missing(app: &App) -> Result<Option<Seeded>> {
    match seed(app).await {
        Ok(seeded) => Ok(Some(seeded)),
        Err(Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
