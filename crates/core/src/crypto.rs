//! Encryption at rest (CONTRACT section 2): authenticated encryption of blobs and
//! vault values under per-subject data keys, and of data keys under the master key.
//!
//! XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`): 192-bit random nonces are safe
//! to draw at random for any number of messages under one key, so no nonce state is
//! kept. Every sealed value binds associated data (what it is and where it belongs),
//! so a ciphertext moved to another row fails to open instead of decrypting.
//!
//! Sealed format: `nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// A 256-bit symmetric key (a subject's data key or the master key).
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Opening failed: wrong key, wrong associated data, or damaged bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decrypt: wrong key or damaged data")]
pub struct OpenError;

impl SecretKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Encrypts `plaintext`, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8], rng: &mut dyn RngCore) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length we store");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts what [`SecretKey::seal`] produced with the same `aad`.
    ///
    /// # Errors
    /// [`OpenError`] for a wrong key, wrong `aad` or damaged bytes.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        XChaCha20Poly1305::new(self.0.as_ref().into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| OpenError)
    }

    /// Wraps a data key under this (master) key, bound to the data key's id.
    pub fn wrap(&self, key_id: &str, data_key: &SecretKey, rng: &mut dyn RngCore) -> Vec<u8> {
        self.seal(&data_key.0, &wrap_aad(key_id), rng)
    }

    /// Unwraps a data key wrapped by [`SecretKey::wrap`].
    ///
    /// # Errors
    /// [`OpenError`] if this is not the key that wrapped it, or the id differs.
    pub fn unwrap_key(&self, key_id: &str, wrapped: &[u8]) -> Result<SecretKey, OpenError> {
        let bytes = self.open(wrapped, &wrap_aad(key_id))?;
        <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map(SecretKey)
            .map_err(|_| OpenError)
    }
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    [b"evident/data-key\0".as_slice(), key_id.as_bytes()].concat()
}

/// Associated data of a blob: its commitment.
pub fn blob_aad(reference: &crate::blob::BlobRef) -> Vec<u8> {
    [b"evident/blob\0".as_slice(), &reference.0].concat()
}

/// Associated data of a vault value: its token.
pub fn vault_aad(token: &str) -> Vec<u8> {
    [b"evident/vault\0".as_slice(), token.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let mut rng = rand::thread_rng();
        let key = SecretKey::generate(&mut rng);
        let sealed = key.seal(b"hello", b"ctx", &mut rng);
        assert_eq!(key.open(&sealed, b"ctx").unwrap(), b"hello");
        assert_eq!(key.open(&sealed, b"other"), Err(OpenError));
        assert_eq!(
            SecretKey::generate(&mut rng).open(&sealed, b"ctx"),
            Err(OpenError)
        );
        let mut damaged = sealed.clone();
        damaged[30] ^= 1;
        assert_eq!(key.open(&damaged, b"ctx"), Err(OpenError));
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_id() {
        let mut rng = rand::thread_rng();
        let master = SecretKey::generate(&mut rng);
        let data = SecretKey::generate(&mut rng);
        let wrapped = master.wrap("dk_1", &data, &mut rng);
        assert_eq!(
            master.unwrap_key("dk_1", &wrapped).unwrap().as_bytes(),
            data.as_bytes()
        );
        assert!(master.unwrap_key("dk_2", &wrapped).is_err());
    }
}
