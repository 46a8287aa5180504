//! Who the passkeys are for: this server, named by its public URL.

use url::{Host, Url};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::error::{Error, Result};

/// The relying party: the public URL's host is its id and the URL's origin the only one
/// whose ceremonies count.
#[derive(Debug, Clone)]
pub struct RelyingParty(Webauthn);

impl RelyingParty {
    /// The relying party of a server whose public URL is `url`. Browsers take no passkeys
    /// for an IP address, so a server known only by its address (`http://127.0.0.1:8080`,
    /// the default) serves them as `localhost` on the same port.
    pub fn for_url(url: &Url) -> Result<Self> {
        let mut origin = url.clone();
        origin.set_path("");
        if matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_))) {
            origin.set_host(Some("localhost")).map_err(unusable)?;
        }
        let id = origin.host_str().ok_or_else(|| unusable("no host"))?.to_owned();
        let webauthn = WebauthnBuilder::new(&id, &origin)
            .and_then(|b| b.rp_name("Portcullis").build())
            .map_err(unusable)?;
        Ok(Self(webauthn))
    }

    pub(super) fn verifier(&self) -> &Webauthn {
        &self.0
    }
}

fn unusable(e: impl std::fmt::Display) -> Error {
    Error::Unexpected(anyhow::anyhow!("passkeys cannot be offered for the public URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relying_party_id(url: &str) -> String {
        let rp = RelyingParty::for_url(&Url::parse(url).unwrap()).unwrap();
        let (options, _) =
            rp.0.start_passkey_registration(uuid::Uuid::nil(), "driver", "driver", None).unwrap();
        options.public_key.rp.id
    }

    #[test]
    fn the_public_urls_host_names_the_relying_party_and_an_address_is_served_as_localhost() {
        assert_eq!(relying_party_id("https://id.fleet.example/"), "id.fleet.example");
        assert_eq!(relying_party_id("http://127.0.0.1:8080/"), "localhost");
        assert_eq!(relying_party_id("http://[::1]:8080/"), "localhost");
    }
}
