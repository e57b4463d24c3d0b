//! Signed notes (C2SP signed-note) with Ed25519 keys, and signed checkpoints.
//!
//! Keys use the Go `sumdb/note` encodings the spec recommends:
//! - verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ 32-byte public key)>`;
//! - signer key: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>`;
//!
//! where key ID = `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`. Parsing, signing
//! and verification use the `signed_note` crate. Signatures from unknown keys are
//! ignored, as the spec requires (this is how witness cosignatures ride along); a
//! signature by the trusted key that fails to verify rejects the note.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use signed_note::{Note, NoteError, Signer as _, StandardSigner, StandardVerifier, VerifierList};

use crate::checkpoint::Checkpoint;
use crate::TlogError;

/// Signature type byte of Ed25519 note signatures (C2SP signed-note).
const ALG_ED25519: u8 = 0x01;

/// Signs checkpoints as the log, with an Ed25519 key whose name is the origin.
#[derive(Clone)]
pub struct LogSigner {
    signer: StandardSigner,
    verifier_key: String,
}

impl LogSigner {
    /// Loads a signer key (`PRIVATE+KEY+<name>+<id>+<base64>`).
    ///
    /// # Errors
    ///
    /// [`TlogError::InvalidKey`] if the key is malformed, not Ed25519, or its key
    /// ID does not match its name and public key.
    pub fn new(private_key: &str) -> Result<Self, TlogError> {
        let signer = StandardSigner::new(private_key.trim_end())
            .map_err(|_| TlogError::InvalidKey("malformed Ed25519 signer key"))?;
        let verifying_key = verifying_key_of(private_key.trim_end())?;
        let verifier_key = signed_note::new_ed25519_verifier_key(signer.name(), &verifying_key);
        Ok(Self {
            signer,
            verifier_key,
        })
    }

    /// Generates a new Ed25519 key named `origin` from the operating system's
    /// random source; returns `(signer key, verifier key)`.
    ///
    /// # Errors
    ///
    /// [`TlogError::InvalidKey`] if `origin` is not a valid key name: it must be
    /// non-empty, without Unicode spaces or `+`.
    pub fn generate(origin: &str) -> Result<(String, String), TlogError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(TlogError::InvalidKey(
                "a key name is non-empty, without spaces or '+'",
            ));
        }
        Ok(signed_note::generate_key(&mut rand::rngs::OsRng, origin))
    }

    /// The key name, which is also the origin of every checkpoint it signs.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The verifier key: `<name>+<hex8>+<base64>`.
    pub fn verifier_key(&self) -> String {
        self.verifier_key.clone()
    }

    /// Signs `checkpoint`, returning the complete signed note text.
    ///
    /// # Errors
    ///
    /// - [`TlogError::OriginMismatch`] unless the checkpoint's origin is the key name.
    /// - [`TlogError::MalformedCheckpoint`] if the body is not valid note text.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, TlogError> {
        if checkpoint.origin != self.name() {
            return Err(TlogError::OriginMismatch {
                origin: checkpoint.origin.clone(),
                key_name: self.name().to_owned(),
            });
        }
        self.sign_note(&checkpoint.to_body())
            .map_err(|_| TlogError::MalformedCheckpoint("not valid note text"))
    }

    /// Signs an arbitrary note text (which must end in a newline), returning the
    /// signed note. Checkpoints should go through [`Self::sign_checkpoint`].
    ///
    /// # Errors
    ///
    /// [`TlogError::MalformedNote`] if `text` is not valid note text: it must end
    /// in a newline and hold no control characters but newlines.
    pub fn sign_note(&self, text: &str) -> Result<String, TlogError> {
        let mut note = Note::new(text.as_bytes(), &[]).map_err(|_| TlogError::MalformedNote)?;
        note.add_sigs(&[&self.signer])
            .map_err(|_| TlogError::MalformedNote)?;
        String::from_utf8(note.to_bytes()).map_err(|_| TlogError::MalformedNote)
    }
}

impl fmt::Debug for LogSigner {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("verifier_key", &self.verifier_key)
            .finish_non_exhaustive()
    }
}

/// Derives the Ed25519 public key from a signer key string already validated by
/// `StandardSigner::new` (which does not expose it).
fn verifying_key_of(private_key: &str) -> Result<ed25519_dalek::VerifyingKey, TlogError> {
    // PRIVATE + KEY + name + id + base64; names contain no '+', base64 may.
    let encoded = private_key
        .splitn(5, '+')
        .nth(4)
        .ok_or(TlogError::InvalidKey("malformed Ed25519 signer key"))?;
    let decoded = BASE64
        .decode(encoded)
        .map_err(|_| TlogError::InvalidKey("malformed Ed25519 signer key"))?;
    let seed: [u8; ed25519_dalek::SECRET_KEY_LENGTH] = match decoded.split_first() {
        Some((&ALG_ED25519, seed)) => seed
            .try_into()
            .map_err(|_| TlogError::InvalidKey("malformed Ed25519 signer key"))?,
        _ => return Err(TlogError::InvalidKey("not an Ed25519 signer key")),
    };
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key())
}

/// The name part of a verifier key (`<name>+<id>+<key>`).
///
/// # Errors
///
/// [`TlogError::InvalidKey`] if the key is not a valid Ed25519 verifier key.
pub fn verifier_key_name(verifier_key: &str) -> Result<String, TlogError> {
    let verifier = parse_verifier(verifier_key)?;
    Ok(signed_note::Verifier::name(&verifier).to_owned())
}

fn parse_verifier(verifier_key: &str) -> Result<StandardVerifier, TlogError> {
    StandardVerifier::new(verifier_key.trim_end())
        .map_err(|_| TlogError::InvalidKey("malformed Ed25519 verifier key"))
}

/// Verifies a signed note against one trusted verifier key and returns its text
/// (the part before the signatures, including its final newline).
///
/// Signatures by other keys are ignored, even if they share the name or the key ID
/// (but not both) with the trusted key.
///
/// # Errors
///
/// - [`TlogError::InvalidKey`] if `verifier_key` is malformed.
/// - [`TlogError::MalformedNote`] if the note breaks C2SP signed-note.
/// - [`TlogError::BadSignature`] if no signature by the key verifies, or one fails.
pub fn open_note(note_text: &[u8], verifier_key: &str) -> Result<String, TlogError> {
    let verifier = parse_verifier(verifier_key)?;
    let note = Note::from_bytes(note_text).map_err(|_| TlogError::MalformedNote)?;
    let known = VerifierList::new(vec![Box::new(verifier)]);
    note.verify(&known).map_err(|error| match error {
        NoteError::MalformedNote => TlogError::MalformedNote,
        _ => TlogError::BadSignature,
    })?;
    String::from_utf8(note.text().to_vec()).map_err(|_| TlogError::MalformedNote)
}

/// Verifies a signed checkpoint against the log's verifier key and parses it.
///
/// The origin line must equal the key's name (the log's convention); extension
/// lines are ignored; other signatures (e.g. witness cosignatures) are allowed.
///
/// # Errors
///
/// Those of [`open_note`] and [`Checkpoint::parse`], and
/// [`TlogError::OriginMismatch`] if the origin is not the key name.
pub fn open_checkpoint(note_text: &[u8], verifier_key: &str) -> Result<Checkpoint, TlogError> {
    let key_name = verifier_key_name(verifier_key)?;
    let body = open_note(note_text, verifier_key)?;
    let checkpoint = Checkpoint::parse(body.as_bytes())?;
    if checkpoint.origin != key_name {
        return Err(TlogError::OriginMismatch {
            origin: checkpoint.origin,
            key_name,
        });
    }
    Ok(checkpoint)
}
