//! Witnessing: cosignatures (C2SP tlog-cosignature), `add-checkpoint` request bodies
//! and the witness's checks (C2SP tlog-witness), and witness policies with their quorum.
//!
//! Pure: no clock (callers pass the cosignature time), no I/O, no HTTP. The witness
//! server, the client that collects cosignatures and `verify-bundle` all call this.
//!
//! ## Keys (C2SP tlog-cosignature, "Format")
//!
//! A cosigner is an Ed25519 key with a name. Its key ID is
//! `SHA-256(<name> ‖ "\n" ‖ 0x04 ‖ public key)[:4]`; its verifier key is the C2SP vkey
//! `<name>+<hex key ID>+<base64(0x04 ‖ public key)>` (signature type 0x04, so a log
//! key, type 0x01, can never be mistaken for a cosigner key). The private key is
//! written like a signed-note signer key with the same type byte:
//! `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 ‖ 32-byte seed)>`.
//!
//! ## Cosignatures (C2SP tlog-cosignature, "Ed25519 signed message")
//!
//! A cosignature is a note signature line `— <name> base64(key ID ‖ timestamp ‖ sig)`
//! where `timestamp` is a big-endian u64 of POSIX seconds and `sig` is Ed25519 over
//! `"cosignature/v1\ntime <timestamp>\n" ‖ <the whole checkpoint note text>`.
//!
//! ## Witness policies
//!
//! No C2SP witness-policy format exists; the file follows the shape of the Sigsum
//! policy file (sigsum-go `doc/policy.md`), with C2SP vkeys in place of hex keys:
//!
//! ```text
//! # comments and blank lines are ignored
//! log <log vkey> [url]                         # optional; if any, the log must be one
//! witness <name> <cosigner vkey> [url]
//! group <name> <k|all|any> <member name>...    # members defined on earlier lines
//! quorum <name>                                # exactly once; `none` needs no witness
//! ```
//!
//! Names are local to the file (witnesses and groups share one namespace); a
//! witness's vkey carries the cosigner's key name, which its cosignature lines use.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, Verifier as _};
use signed_note::{Note, NoteError, VerifierList};

use crate::checkpoint::Checkpoint;
use crate::hash::Hash;
use crate::note::open_checkpoint;
use crate::proof::verify_consistency;
use crate::TlogError;

/// Signature type byte of Ed25519 cosignatures (C2SP tlog-cosignature, "Format").
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

/// At most this many consistency-proof lines in an `add-checkpoint` body (C2SP
/// tlog-witness, "add-checkpoint": "MUST NOT send more than 63").
pub const MAX_PROOF_LINES: usize = 63;

/// The media type of a 409 answer's body: the witness's tree size and a newline.
pub const TLOG_SIZE_MEDIA_TYPE: &str = "text/x.tlog.size";

/// What can go wrong with cosignatures, witness policies and `add-checkpoint` bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// A cosigner key (private or verifier) that cannot be used.
    #[error("invalid cosigner key: {0}")]
    InvalidKey(&'static str),
    /// A policy file line that breaks the format; `line` is 1-based.
    #[error("witness policy line {line}: {reason}")]
    MalformedPolicy {
        /// The line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An `add-checkpoint` request body that breaks C2SP tlog-witness.
    #[error("malformed add-checkpoint request: {0}")]
    MalformedRequest(&'static str),
    /// The checkpoint is not validly signed by the log (or its origin is not the
    /// log's key name).
    #[error("checkpoint: {0}")]
    Checkpoint(TlogError),
    /// The policy lists logs and the log's key is not one of them.
    #[error("the log key {0} is not among the policy's logs")]
    LogNotInPolicy(String),
    /// A signature line by a policy witness that does not verify: the note was
    /// altered or the cosignature forged.
    #[error("cosignature by witness {name:?} does not verify")]
    BadCosignature {
        /// The policy's name for the witness (or the key name if unknown).
        name: String,
    },
    /// Too few of the policy's witnesses cosigned.
    #[error("witness quorum {quorum:?} not met: valid cosignatures from {}", describe(.cosigned))]
    QuorumNotMet {
        /// The policy's quorum name.
        quorum: String,
        /// The witnesses (policy names) whose cosignatures verified.
        cosigned: Vec<String>,
    },
}

fn describe(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

// ---------------------------------------------------------------------------------
// Keys and cosignatures.

/// A witness's Ed25519 cosigning key.
#[derive(Clone)]
pub struct CosignatureSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
    key_id: u32,
}

impl CosignatureSigner {
    /// Generates a new cosigner key named `name` from the operating system's random
    /// source; returns `(private key, verifier key)` in the encodings of the module docs.
    ///
    /// # Errors
    ///
    /// [`WitnessError::InvalidKey`] if `name` is not a valid key name (non-empty, no
    /// spaces or `+`).
    pub fn generate(name: &str) -> Result<(String, String), WitnessError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(WitnessError::InvalidKey(
                "a key name is non-empty, without spaces or '+'",
            ));
        }
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let public = key.verifying_key();
        let id = cosigner_key_id(name, &public);
        let mut seed = vec![COSIGNATURE_V1_TYPE];
        seed.extend_from_slice(key.as_bytes());
        let private = format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(&seed));
        Ok((private, cosigner_verifier_key(name, &public)))
    }

    /// Loads a private key `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`.
    ///
    /// # Errors
    ///
    /// [`WitnessError::InvalidKey`] if it is malformed, of another type, or its key ID
    /// does not match its name and key.
    pub fn new(private_key: &str) -> Result<Self, WitnessError> {
        let malformed = WitnessError::InvalidKey("malformed cosigner private key");
        let rest = private_key
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(malformed.clone())?;
        let (name, id, material) = split_key(rest).ok_or(malformed.clone())?;
        let decoded = BASE64.decode(material).map_err(|_| malformed.clone())?;
        let seed: [u8; 32] = match decoded.split_first() {
            Some((&COSIGNATURE_V1_TYPE, seed)) => seed.try_into().map_err(|_| malformed)?,
            _ => return Err(WitnessError::InvalidKey("not an Ed25519 cosigner key")),
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let key_id = cosigner_key_id(name, &key.verifying_key());
        if id != key_id {
            return Err(WitnessError::InvalidKey("key ID does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// The cosigner's key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key (`<name>+<hex id>+<base64(0x04 ‖ public key)>`).
    pub fn verifier_key(&self) -> String {
        cosigner_verifier_key(&self.name, &self.key.verifying_key())
    }

    /// Cosigns the note text of a checkpoint (everything before the blank line
    /// that precedes the signatures, ending in a newline) as of `timestamp` (POSIX
    /// seconds); returns one signature line ending in a newline.
    ///
    /// # Errors
    ///
    /// [`WitnessError::MalformedRequest`] if the text does not end in a newline or
    /// the timestamp exceeds 2^63 - 1 (tlog-cosignature, "Format").
    pub fn cosign(&self, note_text: &str, timestamp: u64) -> Result<String, WitnessError> {
        if !note_text.ends_with('\n') || timestamp > i64::MAX as u64 {
            return Err(WitnessError::MalformedRequest(
                "a note text ends in a newline; a timestamp is at most 2^63-1",
            ));
        }
        let signature = self
            .key
            .sign(&cosigned_message(note_text.as_bytes(), timestamp));
        let mut bytes = Vec::with_capacity(4 + 8 + 64);
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(format!("— {} {}\n", self.name, BASE64.encode(bytes)))
    }
}

impl std::fmt::Debug for CosignatureSigner {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("verifier_key", &self.verifier_key())
            .finish_non_exhaustive()
    }
}

/// A witness's cosigner verifier key, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    /// Parses a cosigner vkey `<name>+<hex id>+<base64(0x04 ‖ public key)>`.
    ///
    /// # Errors
    ///
    /// [`WitnessError::InvalidKey`] if it is malformed, not type 0x04, or its key ID
    /// does not match.
    pub fn new(verifier_key: &str) -> Result<Self, WitnessError> {
        let malformed = WitnessError::InvalidKey("malformed cosigner verifier key");
        let (name, id, material) = split_key(verifier_key.trim()).ok_or(malformed.clone())?;
        if !signed_note::is_key_name_valid(name) {
            return Err(malformed);
        }
        let decoded = BASE64.decode(material).map_err(|_| malformed.clone())?;
        let key = match decoded.split_first() {
            Some((&COSIGNATURE_V1_TYPE, public)) => {
                let bytes: [u8; 32] = public.try_into().map_err(|_| malformed.clone())?;
                ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| malformed)?
            }
            _ => {
                return Err(WitnessError::InvalidKey(
                    "not an Ed25519 cosigner key (signature type 0x04)",
                ))
            }
        };
        let key_id = cosigner_key_id(name, &key);
        if id != key_id {
            return Err(WitnessError::InvalidKey("key ID does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The cosigner's key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies one signature line (with or without its newline) over `note_text`
    /// and returns the cosignature's timestamp; `None` if the line is not by this
    /// key or does not verify.
    pub fn verify_line(&self, note_text: &[u8], line: &str) -> Option<u64> {
        let signature = signed_note::Signature::from_bytes(line.trim_end().as_bytes()).ok()?;
        if signature.name() != self.name || signature.id() != self.key_id {
            return None;
        }
        self.check(note_text, signature.signature())
    }

    fn check(&self, note_text: &[u8], timestamped: &[u8]) -> Option<u64> {
        let (time, signature) = timestamped.split_first_chunk::<8>()?;
        let signature = ed25519_dalek::Signature::from_slice(signature).ok()?;
        let timestamp = u64::from_be_bytes(*time);
        if timestamp > i64::MAX as u64 {
            return None;
        }
        self.key
            .verify(&cosigned_message(note_text, timestamp), &signature)
            .ok()?;
        Some(timestamp)
    }
}

/// Lets `signed_note::Note::verify` check cosignature lines.
struct NoteCosigner(CosignatureVerifier);

impl signed_note::Verifier for NoteCosigner {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        self.0.key_id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.0.check(msg, sig).is_some()
    }
}

fn cosigned_message(note_text: &[u8], timestamp: u64) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(note_text);
    message
}

fn cosigner_key_id(name: &str, key: &ed25519_dalek::VerifyingKey) -> u32 {
    let mut material = vec![COSIGNATURE_V1_TYPE];
    material.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &material)
}

fn cosigner_verifier_key(name: &str, key: &ed25519_dalek::VerifyingKey) -> String {
    let mut material = vec![COSIGNATURE_V1_TYPE];
    material.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        cosigner_key_id(name, key),
        BASE64.encode(material)
    )
}

/// Splits `<name>+<8 hex>+<base64>` (names hold no `+`; base64 may).
fn split_key(key: &str) -> Option<(&str, u32, &str)> {
    let mut parts = key.splitn(3, '+');
    let name = parts.next()?;
    let id = parts.next()?;
    let material = parts.next()?;
    if name.is_empty() || id.len() != 8 {
        return None;
    }
    Some((name, u32::from_str_radix(id, 16).ok()?, material))
}

/// Splits a signed note into its text (ending in a newline) and its signature lines
/// (each ending in a newline).
///
/// # Errors
///
/// [`TlogError::MalformedNote`] if there is no blank line before the signatures.
pub fn split_note(note: &str) -> Result<(&str, &str), TlogError> {
    let at = note.rfind("\n\n").ok_or(TlogError::MalformedNote)?;
    Ok((&note[..=at], &note[at + 2..]))
}

// ---------------------------------------------------------------------------------
// add-checkpoint (C2SP tlog-witness, "add-checkpoint").

/// An `add-checkpoint` request: the size the client believes the witness holds, a
/// consistency proof from it, and the signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The tree size of the witness's latest cosigned checkpoint, as the client knows it.
    pub old_size: u64,
    /// An RFC 6962 §2.1.2 consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note (may carry several signatures).
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body: `old <N>\n`, one base64 hash per line, a blank line, the note.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&hash.to_base64());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body.
    ///
    /// # Errors
    ///
    /// [`WitnessError::MalformedRequest`] for a missing or non-canonical old size
    /// line, a proof line that is not a base64 hash, more than [`MAX_PROOF_LINES`]
    /// proof lines, or a body that is not UTF-8. The checkpoint itself is checked by
    /// [`check_add_checkpoint`].
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| WitnessError::MalformedRequest("the body is not UTF-8"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(WitnessError::MalformedRequest(
                "no blank line before the checkpoint",
            ))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .ok_or(WitnessError::MalformedRequest(
                "the first line is not `old <size>`",
            ))?;
        let old_size = parse_decimal(old).ok_or(WitnessError::MalformedRequest(
            "the old size is not a decimal without leading zeros",
        ))?;
        let proof = lines
            .map(Hash::from_base64)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| WitnessError::MalformedRequest("a proof line is not a base64 hash"))?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(WitnessError::MalformedRequest("more than 63 proof lines"));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// Parses ASCII decimal with no leading zeros (`0` itself allowed).
pub fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// What a witness has recorded for one log: its latest cosigned tree head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WitnessedHead {
    /// The tree size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// Why a witness refuses an `add-checkpoint` request, with the HTTP status C2SP
/// tlog-witness assigns to each ([`Refusal::status`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The body is malformed, or the old size exceeds the checkpoint's size: 400.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No trusted key for the checkpoint's origin: 404.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// No signature by a trusted key for the origin verifies: 403.
    #[error("the checkpoint is not signed by a trusted key for its origin")]
    Forbidden,
    /// The old size is not the witness's size, or the same size has another root
    /// (a fork): 409, with the witness's size as the body.
    #[error("the witness holds size {known_size}")]
    Conflict {
        /// The size of the witness's latest cosigned checkpoint.
        known_size: u64,
    },
    /// The consistency proof does not verify: 422.
    #[error("the consistency proof does not verify")]
    InconsistentProof,
}

impl Refusal {
    /// The HTTP status code (C2SP tlog-witness, "add-checkpoint").
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::UnknownOrigin(_) => 404,
            Self::Forbidden => 403,
            Self::Conflict { .. } => 409,
            Self::InconsistentProof => 422,
        }
    }
}

/// Reads the origin line of a signed checkpoint without checking anything else, so
/// a witness can find the state and keys of the log it claims to come from.
///
/// # Errors
///
/// [`Refusal::BadRequest`] if the note or checkpoint is malformed.
pub fn checkpoint_origin(note: &str) -> Result<String, Refusal> {
    let parsed = Note::from_bytes(note.as_bytes())
        .map_err(|_| Refusal::BadRequest("the checkpoint is not a signed note"))?;
    let checkpoint = Checkpoint::parse(parsed.text())
        .map_err(|_| Refusal::BadRequest("the note is not a checkpoint"))?;
    Ok(checkpoint.origin)
}

/// The witness's checks on an `add-checkpoint` request, in the order C2SP
/// tlog-witness gives them: the origin is known (404), a trusted log key signed it
/// (403), the old size is at most the new one (400), the old size is the witness's
/// (409), the same size has the same root (409), the proof verifies (422).
///
/// `log_keys` are the verifier keys trusted for the checkpoint's origin (several
/// when the log rotated its key); `known` is the witness's record for that origin.
/// Returns the checkpoint to record and cosign. The caller must check, record and
/// answer atomically per origin (the spec's rollback race).
///
/// # Errors
///
/// The [`Refusal`] to answer with.
pub fn check_add_checkpoint(
    request: &AddCheckpoint,
    log_keys: &[String],
    known: Option<WitnessedHead>,
) -> Result<Checkpoint, Refusal> {
    let origin = checkpoint_origin(&request.checkpoint)?;
    if log_keys.is_empty() {
        return Err(Refusal::UnknownOrigin(origin));
    }
    let checkpoint = log_keys
        .iter()
        .find_map(|key| open_checkpoint(request.checkpoint.as_bytes(), key).ok())
        .ok_or(Refusal::Forbidden)?;
    if request.old_size > checkpoint.size {
        return Err(Refusal::BadRequest(
            "the old size exceeds the checkpoint size",
        ));
    }
    let known_size = known.map_or(0, |head| head.size);
    if request.old_size != known_size {
        return Err(Refusal::Conflict { known_size });
    }
    match known {
        None => {
            if !request.proof.is_empty() {
                return Err(Refusal::InconsistentProof);
            }
        }
        Some(head) if head.size == checkpoint.size => {
            if head.root != checkpoint.root {
                return Err(Refusal::Conflict { known_size });
            }
        }
        Some(head) if head.size == 0 => {
            if !request.proof.is_empty() {
                return Err(Refusal::InconsistentProof);
            }
        }
        Some(head) => verify_consistency(
            head.size,
            checkpoint.size,
            head.root,
            checkpoint.root,
            &request.proof,
        )
        .map_err(|_| Refusal::InconsistentProof)?,
    }
    Ok(checkpoint)
}

// ---------------------------------------------------------------------------------
// Witness policies and the quorum.

/// A witness policy: the logs, the witnesses and the quorum rule (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicy {
    logs: Vec<String>,
    witnesses: BTreeMap<String, CosignatureVerifier>,
    groups: BTreeMap<String, Group>,
    quorum: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<String>,
}

/// The quorum name that needs no cosignature at all.
const NO_QUORUM: &str = "none";

impl WitnessPolicy {
    /// Parses a policy file (module docs).
    ///
    /// # Errors
    ///
    /// [`WitnessError::MalformedPolicy`] naming the line: an unknown keyword, a bad
    /// key, a name defined twice or used before it is defined, a threshold out of
    /// range, a missing or repeated `quorum` line.
    pub fn parse(text: &str) -> Result<Self, WitnessError> {
        let mut policy = Self {
            logs: Vec::new(),
            witnesses: BTreeMap::new(),
            groups: BTreeMap::new(),
            quorum: String::new(),
        };
        let mut quorum_line = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let bad = |reason: &str| WitnessError::MalformedPolicy {
                line,
                reason: reason.to_owned(),
            };
            let content = raw.split('#').next().unwrap_or("").trim();
            let words: Vec<&str> = content.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["log", key] | ["log", key, _] => {
                    crate::note::verifier_key_name(key)
                        .map_err(|_| bad("not an Ed25519 log verifier key"))?;
                    policy.logs.push((*key).to_owned());
                }
                ["witness", name, key] | ["witness", name, key, _] => {
                    policy.check_new_name(name).map_err(|r| bad(&r))?;
                    let verifier =
                        CosignatureVerifier::new(key).map_err(|e| bad(&e.to_string()))?;
                    if policy.witnesses.values().any(|known| known == &verifier) {
                        return Err(bad("this key is already another witness's"));
                    }
                    policy.witnesses.insert((*name).to_owned(), verifier);
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    policy.check_new_name(name).map_err(|r| bad(&r))?;
                    let mut seen = BTreeSet::new();
                    for member in members {
                        if !policy.is_defined(member) || *member == NO_QUORUM {
                            return Err(bad(&format!("{member:?} is not defined above")));
                        }
                        if !seen.insert(*member) {
                            return Err(bad(&format!("{member:?} is listed twice")));
                        }
                    }
                    let threshold = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        k => parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|k| (1..=members.len()).contains(k))
                            .ok_or_else(|| bad("the threshold is all, any or 1..=members"))?,
                    };
                    let members = members.iter().map(|m| (*m).to_owned()).collect();
                    policy
                        .groups
                        .insert((*name).to_owned(), Group { threshold, members });
                }
                ["quorum", name] => {
                    if quorum_line.is_some() {
                        return Err(bad("a second quorum line"));
                    }
                    if !policy.is_defined(name) {
                        return Err(bad(&format!("{name:?} is not defined above")));
                    }
                    policy.quorum = (*name).to_owned();
                    quorum_line = Some(line);
                }
                _ => {
                    return Err(bad(
                        "expected `log`, `witness`, `group` or `quorum` with its fields",
                    ))
                }
            }
        }
        if quorum_line.is_none() {
            return Err(WitnessError::MalformedPolicy {
                line: text.lines().count(),
                reason: "no quorum line".to_owned(),
            });
        }
        Ok(policy)
    }

    fn is_defined(&self, name: &str) -> bool {
        name == NO_QUORUM || self.witnesses.contains_key(name) || self.groups.contains_key(name)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if self.is_defined(name) {
            return Err(format!("{name:?} is already defined"));
        }
        Ok(())
    }

    /// The quorum's name.
    pub fn quorum(&self) -> &str {
        &self.quorum
    }

    /// The witnesses' names, in order.
    pub fn witness_names(&self) -> impl Iterator<Item = &str> {
        self.witnesses.keys().map(String::as_str)
    }

    fn satisfied(&self, name: &str, cosigned: &BTreeSet<&str>) -> bool {
        if name == NO_QUORUM {
            return true;
        }
        if self.witnesses.contains_key(name) {
            return cosigned.contains(name);
        }
        self.groups.get(name).is_some_and(|group| {
            group
                .members
                .iter()
                .filter(|member| self.satisfied(member, cosigned))
                .count()
                >= group.threshold
        })
    }
}

/// Verifies a cosigned checkpoint against a witness policy: the log's signature (by
/// `log_verifier_key`, origin = key name), every signature line by a policy witness,
/// and the quorum. Returns the policy names of the witnesses whose cosignatures
/// verified, sorted. Signature lines by keys the policy does not name are ignored
/// (C2SP signed-note); a line by a policy witness that fails to verify is an error,
/// not ignored, so a tampered cosignature is named.
///
/// # Errors
///
/// - [`WitnessError::Checkpoint`] if the log's signature does not hold.
/// - [`WitnessError::LogNotInPolicy`] if the policy lists logs and not this key.
/// - [`WitnessError::BadCosignature`] naming the witness whose line fails.
/// - [`WitnessError::QuorumNotMet`] listing those that did cosign.
pub fn verify_quorum(
    checkpoint_note: &str,
    log_verifier_key: &str,
    policy: &WitnessPolicy,
) -> Result<Vec<String>, WitnessError> {
    open_checkpoint(checkpoint_note.as_bytes(), log_verifier_key)
        .map_err(WitnessError::Checkpoint)?;
    if !policy.logs.is_empty()
        && !policy
            .logs
            .iter()
            .any(|key| key.trim() == log_verifier_key.trim())
    {
        return Err(WitnessError::LogNotInPolicy(log_verifier_key.to_owned()));
    }
    let cosigned = cosigners_of(checkpoint_note, log_verifier_key, policy.witnesses.iter())?;
    let names: BTreeSet<&str> = cosigned.iter().map(String::as_str).collect();
    if !policy.satisfied(&policy.quorum, &names) {
        return Err(WitnessError::QuorumNotMet {
            quorum: policy.quorum.clone(),
            cosigned,
        });
    }
    Ok(cosigned)
}

/// The names (keys of `witnesses`) whose cosignatures on a log-signed note verify.
///
/// # Errors
///
/// [`WitnessError::BadCosignature`] if a line by one of `witnesses` fails to
/// verify; [`WitnessError::Checkpoint`] if the note is malformed.
pub fn cosigners_of<'a>(
    checkpoint_note: &str,
    log_verifier_key: &str,
    witnesses: impl Iterator<Item = (&'a String, &'a CosignatureVerifier)>,
) -> Result<Vec<String>, WitnessError> {
    let note = Note::from_bytes(checkpoint_note.as_bytes())
        .map_err(|_| WitnessError::Checkpoint(TlogError::MalformedNote))?;
    let log = signed_note::StandardVerifier::new(log_verifier_key.trim())
        .map_err(|_| WitnessError::Checkpoint(TlogError::InvalidKey("malformed log key")))?;
    let mut by_key = BTreeMap::new();
    let mut verifiers: Vec<Box<dyn signed_note::Verifier>> = vec![Box::new(log)];
    for (name, verifier) in witnesses {
        by_key.insert((verifier.name.clone(), verifier.key_id), name.clone());
        verifiers.push(Box::new(NoteCosigner(verifier.clone())));
    }
    let (verified, _unknown) = note
        .verify(&VerifierList::new(verifiers))
        .map_err(|error| match error {
            NoteError::InvalidSignature { name, id } => WitnessError::BadCosignature {
                name: by_key.get(&(name.clone(), id)).cloned().unwrap_or(name),
            },
            _ => WitnessError::Checkpoint(TlogError::BadSignature),
        })?;
    let mut names: Vec<String> = verified
        .iter()
        .filter_map(|signature| by_key.get(&(signature.name().to_owned(), signature.id())))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests;
