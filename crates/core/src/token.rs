//! Keyed tokens for personal data (CONTRACT section 2).
//!
//! A subject identifier becomes `subj_<base32>`: HMAC-SHA-256 under the store's token
//! key over a domain-separated, trimmed identifier, truncated to 160 bits. The same
//! subject always gets the same token; without the key nobody can derive or confirm one.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of HMAC output kept in a subject token (160 bits ≥ the contract's 128).
const SUBJECT_TOKEN_BYTES: usize = 20;

/// Prefix of every subject token.
pub const SUBJECT_TOKEN_PREFIX: &str = "subj_";

/// The secret that keys every token of one store.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self, domain: &str, value: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The token of a subject identifier (trimmed first, so " alice " = "alice").
    pub fn subject_token(&self, identifier: &str) -> String {
        let mac = self.mac("evident/subject", identifier.trim());
        format!(
            "{SUBJECT_TOKEN_PREFIX}{}",
            BASE32_NOPAD
                .encode(&mac[..SUBJECT_TOKEN_BYTES])
                .to_ascii_lowercase()
        )
    }
}

/// `true` if `text` has the shape of a subject token.
pub fn is_subject_token(text: &str) -> bool {
    text.strip_prefix(SUBJECT_TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_trimmed_and_keyed() {
        let k1 = TokenKey::from_bytes([1; 32]);
        let k2 = TokenKey::from_bytes([2; 32]);
        let t = k1.subject_token("alice@example.com");
        assert_eq!(t, k1.subject_token("  alice@example.com\n"));
        assert_ne!(t, k2.subject_token("alice@example.com"));
        assert!(is_subject_token(&t), "{t}");
        assert!(!is_subject_token("subj_XYZ"));
    }
}
