//! A software authenticator for the passkey tests: it answers the server's WebAuthn
//! options as a browser with a platform authenticator would, with its own keys (ring's
//! ECDSA P-256 or Ed25519), its own sign counter and attestation "none". It is built from
//! the specification, not from the server's verifier, so it can also be made to lie: a
//! wrong origin, a tampered signature, a counter set back.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

enum Key {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

pub struct SoftPasskey {
    key: Key,
    pub credential_id: Vec<u8>,
    /// What the server gave as `user.id` at registration.
    pub user_handle: Vec<u8>,
    pub counter: u32,
    /// The origin the browser reports in `clientDataJSON`.
    pub origin: String,
    /// Whether it says it is synced (flags BE and BS).
    pub synced: bool,
}

/// The flags of authenticator data (WebAuthn §6.1).
const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const BACKUP_ELIGIBLE: u8 = 0x08;
const BACKED_UP: u8 = 0x10;
const ATTESTED: u8 = 0x40;

impl SoftPasskey {
    pub fn es256(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        Self::with(Key::Es256(key), origin)
    }

    pub fn eddsa(origin: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::with(Key::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()), origin)
    }

    fn with(key: Key, origin: &str) -> Self {
        let credential_id = rand::random::<[u8; 16]>().to_vec();
        Self { key, credential_id, user_handle: vec![], counter: 0, origin: origin.to_owned(), synced: true }
    }

    fn flags(&self) -> u8 {
        let backup = if self.synced { BACKUP_ELIGIBLE | BACKED_UP } else { 0 };
        USER_PRESENT | USER_VERIFIED | backup
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = options["challenge"].as_str().expect("a challenge");
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// The COSE form of the public key (RFC 9053).
    fn cose_key(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.key {
            Key::Es256(key) => {
                let point = key.public_key().as_ref(); // 0x04 ‖ x ‖ y
                cbor::map(&mut out, 5);
                cbor::pairs(
                    &mut out,
                    &[(1, cbor::Item::Int(2)), (3, cbor::Item::Int(-7)), (-1, cbor::Item::Int(1))],
                );
                cbor::pairs(
                    &mut out,
                    &[(-2, cbor::Item::Bytes(&point[1..33])), (-3, cbor::Item::Bytes(&point[33..]))],
                );
            }
            Key::EdDsa(key) => {
                cbor::map(&mut out, 4);
                cbor::pairs(
                    &mut out,
                    &[(1, cbor::Item::Int(1)), (3, cbor::Item::Int(-8)), (-1, cbor::Item::Int(6))],
                );
                cbor::pairs(&mut out, &[(-2, cbor::Item::Bytes(key.public_key().as_ref()))]);
            }
        }
        out
    }

    fn auth_data(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    /// Answers creation options (the `publicKey` member) as `RegistrationResponseJSON`.
    pub fn create(&mut self, options: &Value) -> Value {
        self.user_handle = B64.decode(options["user"]["id"].as_str().expect("a user id")).unwrap();
        let rp_id = options["rp"]["id"].as_str().expect("a relying party id");
        let client_data = self.client_data("webauthn.create", options);
        let mut auth_data = self.auth_data(rp_id, self.flags() | ATTESTED);
        auth_data.extend_from_slice(&[0; 16]); // no AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let mut attestation = Vec::new();
        cbor::map(&mut attestation, 3);
        cbor::text(&mut attestation, "fmt");
        cbor::text(&mut attestation, "none");
        cbor::text(&mut attestation, "attStmt");
        cbor::map(&mut attestation, 0);
        cbor::text(&mut attestation, "authData");
        cbor::bytes(&mut attestation, &auth_data);
        self.credential(json!({
            "clientDataJSON": B64.encode(client_data),
            "attestationObject": B64.encode(attestation),
            "transports": ["internal"],
        }))
    }

    /// A `PublicKeyCredential` of this passkey, as `toJSON()` writes it.
    fn credential(&self, response: Value) -> Value {
        let id = B64.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        })
    }

    /// Answers request options (the `publicKey` member) as `AuthenticationResponseJSON`,
    /// counting one more use.
    pub fn get(&mut self, options: &Value) -> Value {
        self.counter += 1;
        let rp_id = options["rpId"].as_str().expect("a relying party id");
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.auth_data(rp_id, self.flags());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = match &self.key {
            Key::Es256(key) => key.sign(&SystemRandom::new(), &signed).unwrap().as_ref().to_vec(),
            Key::EdDsa(key) => key.sign(&signed).as_ref().to_vec(),
        };
        self.credential(json!({
            "clientDataJSON": B64.encode(client_data),
            "authenticatorData": B64.encode(auth_data),
            "signature": B64.encode(signature),
            "userHandle": B64.encode(&self.user_handle),
        }))
    }
}

/// Just enough CBOR (RFC 8949) for attestation objects and COSE keys.
mod cbor {
    pub enum Item<'a> {
        Int(i64),
        Bytes(&'a [u8]),
    }

    fn head(out: &mut Vec<u8>, major: u8, len: u64) {
        match len {
            0..24 => out.push(major << 5 | len as u8),
            24..256 => out.extend_from_slice(&[major << 5 | 24, len as u8]),
            _ => {
                out.push(major << 5 | 25);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
    }

    pub fn int(out: &mut Vec<u8>, n: i64) {
        if n >= 0 { head(out, 0, n as u64) } else { head(out, 1, (-1 - n) as u64) }
    }

    pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        head(out, 2, b.len() as u64);
        out.extend_from_slice(b);
    }

    pub fn text(out: &mut Vec<u8>, t: &str) {
        head(out, 3, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }

    pub fn map(out: &mut Vec<u8>, entries: u64) {
        head(out, 5, entries);
    }

    pub fn pairs(out: &mut Vec<u8>, pairs: &[(i64, Item)]) {
        for (key, value) in pairs {
            int(out, *key);
            match value {
                Item::Int(n) => int(out, *n),
                Item::Bytes(b) => bytes(out, b),
            }
        }
    }

    #[test]
    fn encodes_as_rfc_8949_appendix_a_says() {
        let mut out = Vec::new();
        int(&mut out, -7);
        int(&mut out, 24);
        text(&mut out, "a");
        map(&mut out, 0);
        assert_eq!(out, [0x26, 0x18, 0x18, 0x61, 0x61, 0xa0]);
    }
}
