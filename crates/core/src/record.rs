//! From a client's event to the stored record and its entry bytes.
//!
//! The lifecycle of one event (see docs/design/log-lifecycle.md):
//! 1. [`prepare_client_event`] (before sequencing, pure): validate, assign an
//!    `event_id` if absent, digest the submission for idempotency, replace the subject
//!    by its token everywhere, move `input`/`output`/`attributes` into salted blobs,
//!    add `received_at`, `principal`, `schema`. The result knows everything but its
//!    position.
//! 2. [`entry_bytes`] (while sequencing): add `seq`, `trace_prev`, `subject_prev` and
//!    serialize with RFC 8785. These bytes are the Merkle leaf (CONTRACT section 3).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use rand::RngCore;
use serde_json::{Map, Value};

use crate::blob::{commitment_value, BlobRef, NewBlob, SALT_LEN};
use crate::event::{validate_client_event, FieldError, PAYLOAD_FIELDS, SCHEMA};
use crate::json::{canonical_bytes, Canonical, CanonicalObject};
use crate::pii::{
    declared_token, normalized_pairs, pii_token, DeclaredIdentifiers, Detectors, FieldTarget,
    Finding, Matchers,
};
use crate::token::TokenKey;

/// Media type of payloads that arrive inline in an event.
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// Bytes reserved in the entry for the fields added while sequencing: `seq`,
/// `trace_prev`, `subject_prev`, each at most 20 digits plus name, quotes, colon, comma.
const SEQUENCING_FIELDS_RESERVE: usize = 3 * (20 + 16 + 4);

/// The largest entry, in bytes (C2SP tlog-tiles entry bundles prefix entries with a
/// 16-bit length).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// What the server knows about the request an event arrived in.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub token_key: &'a TokenKey,
    /// The personal-data detectors in force.
    pub detectors: &'a Detectors,
    /// The name of the API key that submitted the event.
    pub principal: &'a str,
    /// `received_at` as written in the record, and the same instant in µs.
    pub received_at: &'a str,
    pub received_micros: i64,
}

/// An uploaded blob (`POST /api/v1/blobs`) an event may reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedBlob {
    pub size: usize,
    pub media_type: String,
}

/// The columns the store indexes an entry by; all derived from the record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexKeys {
    pub event_id: String,
    pub trace_id: String,
    pub event_type: String,
    pub agent: String,
    pub job_id: Option<String>,
    pub case_id: Option<String>,
    pub workflow_run_id: Option<String>,
    /// The subject token, never the clear identifier.
    pub subject: Option<String>,
    /// The event's own `timestamp`, µs since the epoch.
    pub timestamp_micros: i64,
}

impl IndexKeys {
    /// Reads the index keys back from a stored record; `verify` compares them with the
    /// store's derived columns.
    pub fn from_record(record: &Map<String, Value>) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let context = record.get("context").and_then(Value::as_object);
        let context_text = |name: &str| text(context.and_then(|c| c.get(name)));
        Self {
            event_id: text(record.get("event_id")).unwrap_or_default(),
            trace_id: text(record.get("trace_id")).unwrap_or_default(),
            event_type: text(record.get("event_type")).unwrap_or_default(),
            agent: text(record.get("actor").and_then(|a| a.get("id"))).unwrap_or_default(),
            job_id: context_text("job_id"),
            case_id: context_text("case_id"),
            workflow_run_id: context_text("workflow_run_id"),
            subject: context_text("subject"),
            timestamp_micros: record
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| crate::time::parse_rfc3339(t).ok())
                .map(crate::time::unix_micros)
                .unwrap_or_default(),
        }
    }
}

/// [`IndexKeys`] read straight from checked entry bytes, borrowing from them (only a
/// string with an escape is copied): what `verify` compares with the store's columns,
/// by the same rules as [`IndexKeys::from_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryIndexKeys<'a> {
    pub event_id: Cow<'a, str>,
    pub trace_id: Cow<'a, str>,
    pub event_type: Cow<'a, str>,
    pub agent: Cow<'a, str>,
    pub job_id: Option<Cow<'a, str>>,
    pub case_id: Option<Cow<'a, str>>,
    pub workflow_run_id: Option<Cow<'a, str>>,
    pub subject: Option<Cow<'a, str>>,
    pub timestamp_micros: i64,
}

impl<'a> EntryIndexKeys<'a> {
    /// The index keys of an entry.
    pub fn of(entry: &CanonicalObject<'a>) -> Self {
        let text = |v: Canonical<'a>| v.as_str();
        let mut keys = Self {
            event_id: Cow::Borrowed(""),
            trace_id: Cow::Borrowed(""),
            event_type: Cow::Borrowed(""),
            agent: Cow::Borrowed(""),
            job_id: None,
            case_id: None,
            workflow_run_id: None,
            subject: None,
            timestamp_micros: 0,
        };
        // One pass over the members, matching their names' bytes: canonical form
        // writes these names as they are (no escapes), and names are unique.
        for (name, value) in entry.members() {
            match name.as_bytes() {
                br#""event_id""# => keys.event_id = text(*value).unwrap_or_default(),
                br#""trace_id""# => keys.trace_id = text(*value).unwrap_or_default(),
                br#""event_type""# => keys.event_type = text(*value).unwrap_or_default(),
                br#""actor""# => {
                    keys.agent = value.get("id").and_then(text).unwrap_or_default();
                }
                br#""context""# => {
                    for (name, value) in value.members() {
                        let slot = match name.as_bytes() {
                            br#""job_id""# => &mut keys.job_id,
                            br#""case_id""# => &mut keys.case_id,
                            br#""workflow_run_id""# => &mut keys.workflow_run_id,
                            br#""subject""# => &mut keys.subject,
                            _ => continue,
                        };
                        *slot = text(value);
                    }
                }
                br#""timestamp""# => {
                    keys.timestamp_micros = text(*value)
                        .and_then(|t| crate::time::parse_rfc3339(&t).ok())
                        .map(crate::time::unix_micros)
                        .unwrap_or_default();
                }
                _ => {}
            }
        }
        keys
    }

    pub fn into_owned(self) -> IndexKeys {
        let owned = |t: Option<Cow<'_, str>>| t.map(Cow::into_owned);
        IndexKeys {
            event_id: self.event_id.into_owned(),
            trace_id: self.trace_id.into_owned(),
            event_type: self.event_type.into_owned(),
            agent: self.agent.into_owned(),
            job_id: owned(self.job_id),
            case_id: owned(self.case_id),
            workflow_run_id: owned(self.workflow_run_id),
            subject: owned(self.subject),
            timestamp_micros: self.timestamp_micros,
        }
    }
}

impl PartialEq<IndexKeys> for EntryIndexKeys<'_> {
    fn eq(&self, other: &IndexKeys) -> bool {
        let same = |a: &Option<Cow<'_, str>>, b: &Option<String>| a.as_deref() == b.as_deref();
        self.event_id == other.event_id.as_str()
            && self.trace_id == other.trace_id.as_str()
            && self.event_type == other.event_type.as_str()
            && self.agent == other.agent.as_str()
            && same(&self.job_id, &other.job_id)
            && same(&self.case_id, &other.case_id)
            && same(&self.workflow_run_id, &other.workflow_run_id)
            && same(&self.subject, &other.subject)
            && self.timestamp_micros == other.timestamp_micros
    }
}

/// The payload blobs an entry references (`{"$blob": "sha256:…"}` in `input`,
/// `output` or `attributes`), read from checked entry bytes, in member order.
pub fn entry_blob_refs<'e>(entry: &'e CanonicalObject<'_>) -> impl Iterator<Item = BlobRef> + 'e {
    entry.members().iter().filter_map(|(name, value)| {
        if !PAYLOAD_FIELDS.iter().any(|field| name.is_str(field)) {
            return None;
        }
        let reference = value.get("$blob")?.as_str()?;
        crate::blob::parse_blob_ref(&reference)
    })
}

/// An event ready to be sequenced.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    /// The record without its sequencing fields.
    pub record: Map<String, Value>,
    /// The record's members serialized once (RFC 8785), so that the sequencer only
    /// merges in the position fields (see `entry.rs`).
    pub members: crate::entry::CanonicalMembers,
    pub index: IndexKeys,
    /// SHA-256 of the RFC 8785 bytes of what the client sent; the same `event_id`
    /// with another digest is a conflict.
    pub submission_digest: [u8; 32],
    /// Payloads taken out of the event, to be stored (encrypted) with the entry.
    /// Plaintext: the server seals them and empties this before the store sees it.
    pub blobs: Vec<NewBlob>,
    /// Personal data found in the event's text, replaced there by tokens. Plaintext:
    /// the server seals it into the vault and empties this before the store sees it.
    pub pii: Vec<Finding>,
    /// The identifiers this event declares (`context.subject_identifiers`), with
    /// their tokens: the server remembers them for the event's subject. Plaintext:
    /// sealed and emptied before the store sees it.
    pub identifiers: Vec<Finding>,
    /// Uploaded blobs the event references; the store marks them as kept.
    pub uploads: Vec<BlobRef>,
    /// The event's searchable text (`text::searchable_text` of the record with its
    /// payloads, after tokenization), so the text index need not read the payloads
    /// back; `None` when a payload is an upload, whose content is not at hand here.
    pub text: Option<String>,
}

/// What sequencing needs of a prepared event: its serialized members, the columns it
/// is indexed by and its submission digest. The record itself (a tree of many small
/// allocations) stays with the request handler, so the single writer never spends its
/// time building or freeing it.
#[derive(Debug, Clone)]
pub struct UnsequencedEntry {
    pub members: crate::entry::CanonicalMembers,
    pub index: IndexKeys,
    pub submission_digest: [u8; 32],
}

impl From<PreparedEvent> for UnsequencedEntry {
    fn from(event: PreparedEvent) -> Self {
        Self {
            members: event.members,
            index: event.index,
            submission_digest: event.submission_digest,
        }
    }
}

/// Every uploaded blob an event references, to be looked up before [`prepare_client_event`].
pub fn referenced_uploads(event: &Value) -> Vec<BlobRef> {
    PAYLOAD_FIELDS
        .iter()
        .filter_map(|field| event.get(*field)?.get("$blob")?.as_str())
        .filter_map(crate::blob::parse_blob_ref)
        .collect()
}

/// Validates and prepares one client event (step 1 of the lifecycle).
///
/// `uploads` holds the uploaded blobs this event may reference (see
/// [`referenced_uploads`]); `rng` draws salts and ULIDs.
///
/// # Errors
/// A [`FieldError`] naming the field, relative to the event.
pub fn prepare_client_event(
    event: Value,
    submission: &Submission<'_>,
    uploads: &HashMap<BlobRef, UploadedBlob>,
    rng: &mut dyn RngCore,
) -> Result<PreparedEvent, FieldError> {
    prepare_client_event_remembering(event, submission, uploads, &[], rng)
}

/// [`prepare_client_event`] with the identifiers remembered for the event's subject
/// (`(kind, value)` pairs that earlier events declared, CONTRACT section 2), which
/// are tokenized in its text like the ones it declares itself. The caller picks them
/// by the event's subject token ([`subject_token_of`]).
///
/// # Errors
/// As [`prepare_client_event`].
pub fn prepare_client_event_remembering(
    event: Value,
    submission: &Submission<'_>,
    uploads: &HashMap<BlobRef, UploadedBlob>,
    remembered: &[(String, String)],
    rng: &mut dyn RngCore,
) -> Result<PreparedEvent, FieldError> {
    prepare_client_event_matching(
        event,
        submission,
        uploads,
        remembered,
        &mut Matchers::default(),
        rng,
    )
}

/// [`prepare_client_event_remembering`] with the identifier matchers the events
/// before it in the same request built (`matchers`): events that declare and
/// remember the same identifiers share one (building it costs more than the rest of
/// the scan).
///
/// # Errors
/// As [`prepare_client_event`].
pub fn prepare_client_event_matching(
    event: Value,
    submission: &Submission<'_>,
    uploads: &HashMap<BlobRef, UploadedBlob>,
    remembered: &[(String, String)],
    matchers: &mut Matchers,
    rng: &mut dyn RngCore,
) -> Result<PreparedEvent, FieldError> {
    validate_client_event(&event)?;
    let submission_digest = crate::json::sha256_canonical(&event);
    let Value::Object(mut record) = event else {
        unreachable!("validate_client_event accepts objects only")
    };

    if !record.get("event_id").is_some_and(Value::is_string) {
        record.insert("event_id".into(), Value::String(new_event_id(rng)));
    }

    let mut pii = Vec::new();
    // Read before the subject's token replaces anything: a declared e-mail may be the
    // subject's identifier too.
    let (declared, identifiers) = declared_identifiers(
        &mut record,
        submission.token_key,
        remembered,
        matchers,
        &mut pii,
    );
    tokenize_subject(&mut record, submission.token_key, &mut pii);
    tokenize_personal_data(&mut record, submission, declared.as_deref(), &mut pii);

    let references_upload = PAYLOAD_FIELDS
        .iter()
        .any(|field| record.get(*field).is_some_and(|p| p.get("$blob").is_some()));
    let text = (!references_upload).then(|| crate::text::searchable_text(&record));
    let (blobs, referenced) = seal_payloads(&mut record, uploads, rng)?;

    record.insert(
        "received_at".into(),
        Value::String(submission.received_at.into()),
    );
    record.insert(
        "principal".into(),
        Value::String(submission.principal.into()),
    );
    record.insert("schema".into(), Value::String(SCHEMA.into()));

    let members = crate::entry::CanonicalMembers::of(&record);
    let size = members.object_len();
    if size + SEQUENCING_FIELDS_RESERVE > MAX_ENTRY_BYTES {
        return Err(FieldError::new(
            "",
            format!(
                "the event's entry would be {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit; \
                 move large values into input, output or attributes, which are stored as blobs"
            ),
        ));
    }

    let index = IndexKeys::from_record(&record);
    Ok(PreparedEvent {
        record,
        members,
        index,
        submission_digest,
        blobs,
        pii,
        identifiers,
        uploads: referenced,
        text,
    })
}

/// Moves each payload (`input`, `output`, `attributes`) out of the record into a
/// salted blob, leaving its commitment in its place; a payload that references an
/// upload keeps the upload (it is sealed when the event is). Returns the new blobs
/// and the uploads referenced.
fn seal_payloads(
    record: &mut Map<String, Value>,
    uploads: &HashMap<BlobRef, UploadedBlob>,
    rng: &mut dyn RngCore,
) -> Result<(Vec<NewBlob>, Vec<BlobRef>), FieldError> {
    let mut blobs = Vec::new();
    let mut referenced = Vec::new();
    for field in PAYLOAD_FIELDS {
        let Some(payload) = record.remove(*field) else {
            continue;
        };
        let commitment = if let Some(reference) = payload
            .get("$blob")
            .and_then(Value::as_str)
            .and_then(crate::blob::parse_blob_ref)
        {
            let upload = uploads.get(&reference).ok_or_else(|| {
                FieldError::new(
                    format!("/{field}/$blob"),
                    "no uploaded blob has this reference (uploads expire after 24 h)",
                )
            })?;
            referenced.push(reference);
            commitment_value(&reference, upload.size, &upload.media_type)
        } else {
            let blob = seal_json_payload(&payload, rng);
            let value = commitment_value(&blob.reference, blob.bytes.len(), JSON_MEDIA_TYPE);
            blobs.push(blob);
            value
        };
        record.insert((*field).into(), commitment);
    }
    Ok((blobs, referenced))
}

/// Text fields scanned for personal data besides the payloads (CONTRACT section 2).
const SCANNED_TEXT: &[(&str, &str)] = &[
    ("decision", "reason"),
    ("approval", "comment"),
    ("error", "message"),
];

/// The subject token of a client event as submitted (`context.subject`, trimmed), the
/// token [`prepare_client_event`] will put in its place; `None` without a subject.
pub fn subject_token_of(event: &Value, key: &TokenKey) -> Option<String> {
    let clear = event.get("context")?.get("subject")?.as_str()?.trim();
    Some(key.subject_token(clear))
}

/// The identifiers the event declares (`context.subject_identifiers`, CONTRACT
/// section 2): each value is replaced there by its token and goes to `found`, for
/// the vault, whether or not the text mentions it. The matcher also holds the
/// subject's `remembered` identifiers (found only where the text mentions them: they
/// are in the vault already); it comes from `matchers`, built there only for pairs no
/// earlier event of the request had. Returns the matcher and the event's own
/// identifiers.
fn declared_identifiers(
    record: &mut Map<String, Value>,
    key: &TokenKey,
    remembered: &[(String, String)],
    matchers: &mut Matchers,
    found: &mut Vec<Finding>,
) -> (Option<Arc<DeclaredIdentifiers>>, Vec<Finding>) {
    let own = match record
        .get_mut("context")
        .and_then(|c| c.get_mut("subject_identifiers"))
        .and_then(Value::as_object_mut)
    {
        Some(identifiers) => {
            let own = normalized_pairs(
                identifiers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
            );
            for (name, value) in identifiers.iter_mut() {
                if let Some(token) = value.as_str().and_then(|v| declared_token(key, name, v)) {
                    *value = Value::String(token);
                }
            }
            own
        }
        None => Vec::new(),
    };
    let own_findings: Vec<Finding> = own
        .iter()
        .map(|(kind, value)| Finding {
            token: pii_token(key, kind, value),
            kind: kind.clone(),
            value: value.clone(),
        })
        .collect();
    found.extend(own_findings.iter().cloned());
    // The event's own first: where a variant is shared, it names the event's own.
    let all = normalized_pairs(
        own.iter()
            .chain(remembered)
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    (matchers.get(all), own_findings)
}

/// Replaces personal data in the payloads and the scanned text fields by typed tokens:
/// the event's declared identifiers first, then the detectors.
fn tokenize_personal_data(
    record: &mut Map<String, Value>,
    submission: &Submission<'_>,
    declared: Option<&DeclaredIdentifiers>,
    found: &mut Vec<Finding>,
) {
    apply_field_rules(record, submission, found);
    for field in PAYLOAD_FIELDS {
        if let Some(payload) = record.get_mut(*field) {
            if payload.get("$blob").is_none() {
                scan_value(payload, submission, declared, found);
            }
        }
    }
    for (object, member) in SCANNED_TEXT {
        if let Some(Value::String(text)) = record.get_mut(*object).and_then(|o| o.get_mut(*member))
        {
            if let Some(replaced) = scan_text(text, submission, declared, found) {
                *text = replaced;
            }
        }
    }
}

/// The configured field rules: each value they name is replaced whole by its token
/// (CONTRACT section 2: "field rules (JSON pointers or key names always tokenized as
/// a kind)"), before the detectors see the text.
fn apply_field_rules(
    record: &mut Map<String, Value>,
    submission: &Submission<'_>,
    found: &mut Vec<Finding>,
) {
    for rule in &submission.detectors.field_rules {
        match &rule.target {
            FieldTarget::Pointer(pointer) => {
                let mut segments = pointer.splitn(3, '/').skip(1);
                let Some(field) = segments.next() else {
                    continue;
                };
                let rest = segments.next().map(|r| format!("/{r}")).unwrap_or_default();
                if let Some(target) = record
                    .get_mut(field)
                    .filter(|p| p.get("$blob").is_none())
                    .and_then(|p| p.pointer_mut(&rest))
                {
                    tokenize_whole(target, &rule.kind, submission.token_key, found);
                }
            }
            FieldTarget::Key(name) => {
                for field in PAYLOAD_FIELDS {
                    if let Some(payload) =
                        record.get_mut(*field).filter(|p| p.get("$blob").is_none())
                    {
                        tokenize_members_named(
                            payload,
                            name,
                            &rule.kind,
                            submission.token_key,
                            found,
                        );
                    }
                }
            }
        }
    }
}

fn tokenize_members_named(
    value: &mut Value,
    name: &str,
    kind: &str,
    key: &TokenKey,
    found: &mut Vec<Finding>,
) {
    match value {
        Value::Object(members) => {
            for (member, inner) in members.iter_mut() {
                if member == name {
                    tokenize_whole(inner, kind, key, found);
                } else {
                    tokenize_members_named(inner, name, kind, key, found);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| tokenize_members_named(v, name, kind, key, found)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Replaces a value a field rule names by its token: a string or number whole, every
/// string or number inside an array or object.
fn tokenize_whole(value: &mut Value, kind: &str, key: &TokenKey, found: &mut Vec<Finding>) {
    let clear = match value {
        Value::String(text) if crate::pii::is_pii_token(text) => return,
        Value::String(text) => text.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            items
                .iter_mut()
                .for_each(|v| tokenize_whole(v, kind, key, found));
            return;
        }
        Value::Object(members) => {
            members
                .values_mut()
                .for_each(|v| tokenize_whole(v, kind, key, found));
            return;
        }
        Value::Null | Value::Bool(_) => return,
    };
    if clear.is_empty() {
        return;
    }
    let token = pii_token(key, kind, &clear);
    *value = Value::String(token.clone());
    found.push(Finding {
        token,
        kind: kind.to_owned(),
        value: clear,
    });
}

/// One text through the declared identifiers, then the detectors; `None` when
/// nothing was found.
fn scan_text(
    text: &str,
    submission: &Submission<'_>,
    declared: Option<&DeclaredIdentifiers>,
    found: &mut Vec<Finding>,
) -> Option<String> {
    let after_declared = declared.and_then(|d| d.tokenize(submission.token_key, text, found));
    let current = after_declared.as_deref().unwrap_or(text);
    submission
        .detectors
        .tokenize(submission.token_key, current, found)
        .or(after_declared)
}

fn scan_value(
    value: &mut Value,
    submission: &Submission<'_>,
    declared: Option<&DeclaredIdentifiers>,
    found: &mut Vec<Finding>,
) {
    match value {
        Value::String(text) => {
            if let Some(replaced) = scan_text(text, submission, declared, found) {
                *text = replaced;
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| scan_value(v, submission, declared, found)),
        Value::Object(members) => {
            let renamed: Vec<(String, String)> = members
                .keys()
                .filter_map(|k| scan_text(k, submission, declared, found).map(|r| (k.clone(), r)))
                .collect();
            for (old, new) in renamed {
                if let Some(v) = members.remove(&old) {
                    members.insert(new, v);
                }
            }
            members
                .values_mut()
                .for_each(|v| scan_value(v, submission, declared, found));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Tokenizes the personal data in an uploaded payload (`POST /api/v1/blobs`), as
/// inline payloads are: JSON is parsed strictly, scanned and re-serialized (RFC
/// 8785); text is scanned as it is. Other media types (images, PDFs) are stored as
/// sent: nothing here can read them.
///
/// # Errors
/// A JSON media type whose body is not I-JSON, or text that is not UTF-8.
pub fn tokenize_upload(
    bytes: Vec<u8>,
    media_type: &str,
    submission: &Submission<'_>,
) -> Result<(Vec<u8>, Vec<Finding>), FieldError> {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut found = Vec::new();
    if essence == "application/json" || essence.ends_with("+json") {
        let mut value = crate::json::parse_value(&bytes)
            .map_err(|e| FieldError::new(e.pointer, format!("not valid JSON: {}", e.message)))?;
        scan_value(&mut value, submission, None, &mut found);
        return Ok((canonical_bytes(&value), found));
    }
    if essence.starts_with("text/") {
        let text =
            String::from_utf8(bytes).map_err(|_| FieldError::new("", "text must be UTF-8"))?;
        let replaced = submission
            .detectors
            .tokenize(submission.token_key, &text, &mut found)
            .unwrap_or(text);
        return Ok((replaced.into_bytes(), found));
    }
    Ok((bytes, found))
}

/// What a server-written event says, besides the fields every event has.
#[derive(Debug, Clone)]
pub struct ServerEvent {
    /// One of [`crate::event::SERVER_EVENT_TYPES`].
    pub event_type: &'static str,
    /// The trace of the request that caused it; `evident:<event_type>` when none.
    pub trace_id: Option<String>,
    pub parent_event_id: Option<String>,
    /// Further top-level fields (`approval`, `decision`, `context`, ...). They are
    /// stored inline, so they must hold no clear personal data.
    pub fields: Map<String, Value>,
}

/// Prepares an event the server writes itself (CONTRACT section 1, "Server events"):
/// `actor` is the system, `timestamp` is `received_at`, `principal` the acting key.
/// Its fields are stored inline as given: for an event that carries personal data,
/// see [`prepare_governed_event`].
pub fn prepare_server_event(
    event: ServerEvent,
    submission: &Submission<'_>,
    rng: &mut dyn RngCore,
) -> PreparedEvent {
    let record = server_record(event, submission, rng);
    let text = crate::text::searchable_text(&record);
    server_prepared(record, text, Vec::new(), Vec::new())
}

/// Prepares a server event that carries governance data (CONTRACT section 6,
/// "Governance data is payload": a decision's payload and context, an approval's
/// draft, final and diff). They pass the privacy boundary as a client event's do:
/// `context.subject` becomes its token (and so does the clear id anywhere else;
/// a subject given as its token is kept as it is), the
/// subject's `remembered` identifiers and the detectors tokenize `input`, `output`,
/// `attributes`, `decision.reason` and `approval.comment`, and the payloads become
/// salted blobs (sealed by the server under the subject's key) with their
/// commitments in the entry. So an erasure reaches them, and the entry keeps only
/// what must stay: hashes, ids, outcomes.
///
/// # Errors
/// A payload that is itself a blob reference (`{"$blob": ...}`): governance payloads
/// are the server's own structures, never uploads; the error names the field.
pub fn prepare_governed_event(
    event: ServerEvent,
    submission: &Submission<'_>,
    remembered: &[(String, String)],
    rng: &mut dyn RngCore,
) -> Result<PreparedEvent, FieldError> {
    let mut record = server_record(event, submission, rng);
    let mut pii = Vec::new();
    let declared =
        DeclaredIdentifiers::new(remembered.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // A subject the server knows only by its token (an approval resolved long after
    // its request) is named as it is; a clear id becomes its token everywhere.
    let subject_is_token = record
        .get("context")
        .and_then(|c| c.get("subject"))
        .and_then(Value::as_str)
        .is_some_and(|s| crate::token::is_subject_token(s.trim()));
    if !subject_is_token {
        tokenize_subject(&mut record, submission.token_key, &mut pii);
    }
    tokenize_personal_data(&mut record, submission, declared.as_ref(), &mut pii);
    let text = crate::text::searchable_text(&record);
    let (blobs, _) = seal_payloads(&mut record, &HashMap::new(), rng)?;
    Ok(server_prepared(record, text, blobs, pii))
}

/// A server event's fields with those every server event has.
fn server_record(
    event: ServerEvent,
    submission: &Submission<'_>,
    rng: &mut dyn RngCore,
) -> Map<String, Value> {
    let mut record = event.fields;
    record.insert("event_id".into(), Value::String(new_event_id(rng)));
    record.insert("event_type".into(), Value::String(event.event_type.into()));
    record.insert(
        "trace_id".into(),
        Value::String(
            event
                .trace_id
                .unwrap_or_else(|| format!("evident:{}", event.event_type)),
        ),
    );
    if let Some(parent) = event.parent_event_id {
        record.insert("parent_event_id".into(), Value::String(parent));
    }
    record.insert(
        "actor".into(),
        serde_json::json!({"type": "system", "id": "evident"}),
    );
    record.insert(
        "timestamp".into(),
        Value::String(submission.received_at.into()),
    );
    record.insert(
        "received_at".into(),
        Value::String(submission.received_at.into()),
    );
    record.insert(
        "principal".into(),
        Value::String(submission.principal.into()),
    );
    record.insert("schema".into(), Value::String(SCHEMA.into()));
    record
}

/// A finished server record, ready to be sequenced.
fn server_prepared(
    record: Map<String, Value>,
    text: String,
    blobs: Vec<NewBlob>,
    pii: Vec<Finding>,
) -> PreparedEvent {
    // Of the stored record, tokens and commitments only: a digest of clear values
    // would let anyone holding the database test guesses of them.
    let submission_digest = crate::json::sha256_canonical(&Value::Object(record.clone()));
    let index = IndexKeys::from_record(&record);
    PreparedEvent {
        members: crate::entry::CanonicalMembers::of(&record),
        text: Some(text),
        record,
        index,
        submission_digest,
        blobs,
        pii,
        identifiers: Vec::new(),
        uploads: Vec::new(),
    }
}

/// A fresh server-assigned event id, `evt_<ULID>`.
pub fn new_event_id(rng: &mut dyn RngCore) -> String {
    let ulid = ulid::Ulid::from_parts(
        u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX),
        (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()),
    );
    format!("evt_{ulid}")
}

/// Serializes `payload` (RFC 8785) into a salted blob.
pub fn seal_json_payload(payload: &Value, rng: &mut dyn RngCore) -> NewBlob {
    let bytes = canonical_bytes(payload);
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    NewBlob {
        reference: BlobRef::commit(&salt, &bytes),
        salt,
        media_type: JSON_MEDIA_TYPE.into(),
        bytes,
    }
}

/// Replaces `context.subject` by its token, and every other occurrence of the clear
/// identifier in the event (CONTRACT section 2, "Subjects"). The clear identifier
/// goes to `found` (kind `SUBJECT`), for the vault.
fn tokenize_subject(record: &mut Map<String, Value>, key: &TokenKey, found: &mut Vec<Finding>) {
    let Some(clear) = record
        .get("context")
        .and_then(|c| c.get("subject"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
    else {
        return;
    };
    let token = key.subject_token(&clear);
    found.push(Finding {
        token: token.clone(),
        kind: "SUBJECT".into(),
        value: clear.clone(),
    });
    for (name, value) in record.iter_mut() {
        if name != "context" {
            replace_in_value(value, &clear, &token);
        }
    }
    if let Some(Value::Object(context)) = record.get_mut("context") {
        for (name, value) in context.iter_mut() {
            if name == "subject" {
                *value = Value::String(token.clone());
            } else {
                replace_in_value(value, &clear, &token);
            }
        }
    }
}

fn replace_in_value(value: &mut Value, clear: &str, token: &str) {
    match value {
        Value::String(text) => {
            if let Some(replaced) = replace_delimited(text, clear, token) {
                *text = replaced;
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| replace_in_value(v, clear, token)),
        Value::Object(members) => {
            let renamed: Vec<(String, String)> = members
                .keys()
                .filter_map(|k| replace_delimited(k, clear, token).map(|r| (k.clone(), r)))
                .collect();
            for (old, new) in renamed {
                if let Some(v) = members.remove(&old) {
                    members.insert(new, v);
                }
            }
            members
                .values_mut()
                .for_each(|v| replace_in_value(v, clear, token));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Replaces occurrences of `needle` that are not part of a longer word (the characters
/// either side are not alphanumeric), so subject "cust-12" does not rewrite "cust-123".
/// `None` when nothing was replaced.
pub fn replace_delimited(text: &str, needle: &str, replacement: &str) -> Option<String> {
    if needle.is_empty() || !text.contains(needle) {
        return None;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    let mut changed = false;
    while let Some(pos) = rest.find(needle) {
        let before = rest[..pos].chars().next_back().or(previous);
        let after = rest[pos + needle.len()..].chars().next();
        out.push_str(&rest[..pos]);
        if is_word(before) || is_word(after) {
            out.push_str(needle);
        } else {
            out.push_str(replacement);
            changed = true;
        }
        previous = needle.chars().next_back();
        rest = &rest[pos + needle.len()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The fields the sequencer adds, and the entry bytes (step 2 of the lifecycle).
///
/// # Panics
/// Never for records from [`prepare_client_event`]: their size was checked with room
/// for these fields.
pub fn entry_bytes(
    record: &Map<String, Value>,
    seq: u64,
    trace_prev: Option<u64>,
    subject_prev: Option<u64>,
) -> Vec<u8> {
    let mut full = record.clone();
    full.insert("seq".into(), Value::from(seq));
    full.insert(
        "trace_prev".into(),
        trace_prev.map_or(Value::Null, Value::from),
    );
    full.insert(
        "subject_prev".into(),
        subject_prev.map_or(Value::Null, Value::from),
    );
    canonical_bytes(&Value::Object(full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_index_keys_and_blob_refs_read_what_the_record_says() {
        let blob = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let records = [
            json!({
                "event_id": "e1", "trace_id": "t\"1\\", "event_type": "tool_call",
                "actor": {"type": "agent", "id": "refund-bot"},
                "context": {"subject": "subj_x", "case_id": "c\n1", "job_id": "j",
                            "workflow_run_id": "w"},
                "timestamp": "2026-11-23T14:22:07.5+02:00",
                "input": {"$blob": blob('a'), "size": 1},
                "output": {"$blob": blob('b')},
                "attributes": {"$blob": blob('c'), "media_type": "application/json"},
                "seq": 3
            }),
            // Missing, mistyped and malformed fields read as the record reads them.
            json!({"event_id": 7, "actor": ["id"], "context": "c", "timestamp": "yesterday",
                   "input": {"$blob": "sha256:00"}, "output": [{"$blob": blob('d')}],
                   "attributes": {"$blob": blob('A')}}),
            json!({"actor": {"id": null}, "context": {"job_id": 1, "subject": null},
                   "timestamp": 17, "input": "text"}),
            json!({}),
        ];
        for record in records {
            let Value::Object(map) = &record else {
                unreachable!()
            };
            let bytes = canonical_bytes(&record);
            let entry = CanonicalObject::check(&bytes).unwrap();
            let keys = EntryIndexKeys::of(&entry);
            assert_eq!(keys, IndexKeys::from_record(map), "{record}");
            assert_eq!(keys.clone().into_owned(), IndexKeys::from_record(map));
            let mut other = IndexKeys::from_record(map);
            other.timestamp_micros += 1;
            assert_ne!(keys, other);
            let mut other = IndexKeys::from_record(map);
            other.subject = Some(other.subject.unwrap_or_default() + "x");
            assert_ne!(keys, other);
            let mut refs: Vec<_> = entry_blob_refs(&entry).collect();
            let mut expected = referenced_uploads(&record);
            refs.sort();
            expected.sort();
            assert_eq!(refs, expected, "{record}");
        }
    }

    fn submission(key: &TokenKey) -> Submission<'_> {
        static DETECTORS: std::sync::OnceLock<Detectors> = std::sync::OnceLock::new();
        Submission {
            token_key: key,
            detectors: DETECTORS.get_or_init(Detectors::default),
            principal: "ingest-1",
            received_at: "2026-11-23T14:22:07.123456Z",
            received_micros: 0,
        }
    }

    fn event() -> Value {
        json!({
            "event_id": "e1", "trace_id": "t1", "timestamp": "2026-11-23T14:22:07Z",
            "actor": {"type": "agent", "id": "refund-bot"}, "event_type": "tool_call",
            "context": {"subject": " alice@example.com ", "case_id": "c-alice@example.com"},
            "input": {"to": "alice@example.com", "body": "hi alice@example.com!"},
            "extra": {"kept": true}
        })
    }

    #[test]
    fn subject_is_tokenized_everywhere_and_payloads_become_commitments() {
        let key = TokenKey::from_bytes([9; 32]);
        let prepared = prepare_client_event(
            event(),
            &submission(&key),
            &HashMap::new(),
            &mut rand::thread_rng(),
        )
        .unwrap();
        let token = key.subject_token("alice@example.com");
        let text = serde_json::to_string(&prepared.record).unwrap();
        assert!(!text.contains("alice@example.com"), "{text}");
        assert_eq!(prepared.index.subject.as_deref(), Some(token.as_str()));
        assert_eq!(prepared.record["extra"], json!({"kept": true}));
        assert_eq!(prepared.blobs.len(), 1);
        assert!(prepared.blobs[0].opens());
        let blob_text = String::from_utf8(prepared.blobs[0].bytes.clone()).unwrap();
        assert!(blob_text.contains(&token) && !blob_text.contains("alice@"));
        assert_eq!(
            prepared.record["input"]["$blob"],
            json!(prepared.blobs[0].reference.to_ref_string())
        );
    }

    /// Governance data (CONTRACT section 6) crosses the same boundary as a client's
    /// payload: the subject and the personal data in payloads, reasons and comments
    /// leave the entry, the payloads become sealed blobs, the ids and hashes stay.
    #[test]
    fn governed_server_events_keep_no_personal_data_in_the_entry() {
        let key = TokenKey::from_bytes([9; 32]);
        let mut fields = Map::new();
        fields.insert(
            "context".into(),
            json!({"subject": "C-1042", "job_id": "job-7"}),
        );
        fields.insert(
            "input".into(),
            json!({"draft": {"customer": "Wei Novak", "email": "wei@example.org.", "ref": "C-1042"}}),
        );
        fields.insert(
            "approval".into(),
            json!({"approval_id": "apr_1", "job_hash": "ab".repeat(32),
                   "comment": "called wei@example.org to confirm"}),
        );
        let event = ServerEvent {
            event_type: "approval_request",
            trace_id: Some("t-42".into()),
            parent_event_id: None,
            fields,
        };
        let remembered = [("name".to_owned(), "Wei Novak".to_owned())];
        let prepared = prepare_governed_event(
            event,
            &submission(&key),
            &remembered,
            &mut rand::thread_rng(),
        )
        .unwrap();
        let entry = serde_json::to_string(&prepared.record).unwrap();
        for clear in ["C-1042", "Wei Novak", "wei@example.org"] {
            assert!(!entry.contains(clear), "{clear} in {entry}");
        }
        let token = key.subject_token("C-1042");
        assert_eq!(prepared.index.subject.as_deref(), Some(token.as_str()));
        assert_eq!(
            prepared.record["approval"]["job_hash"],
            json!("ab".repeat(32))
        );
        assert_eq!(prepared.record["event_type"], json!("approval_request"));
        assert_eq!(
            prepared.record["actor"],
            json!({"type": "system", "id": "evident"})
        );
        assert_eq!(prepared.blobs.len(), 1);
        let blob = String::from_utf8(prepared.blobs[0].bytes.clone()).unwrap();
        assert!(
            !blob.contains("Wei Novak") && !blob.contains("wei@"),
            "{blob}"
        );
        let found: Vec<&str> = prepared.pii.iter().map(|f| f.value.as_str()).collect();
        for clear in ["C-1042", "Wei Novak", "wei@example.org"] {
            assert!(
                found.contains(&clear),
                "{clear} not for the vault: {found:?}"
            );
        }
        let text = prepared.text.as_deref().unwrap_or_default();
        assert!(!text.contains("wei@") && text.contains("called"), "{text}");

        // A payload that names a blob is refused, naming the field: governance
        // payloads are the server's own structures.
        let mut fields = Map::new();
        fields.insert(
            "output".into(),
            json!({"$blob": format!("sha256:{}", "0".repeat(64))}),
        );
        let event = ServerEvent {
            event_type: "approval_resolution",
            trace_id: None,
            parent_event_id: None,
            fields,
        };
        let error = prepare_governed_event(event, &submission(&key), &[], &mut rand::thread_rng())
            .unwrap_err();
        assert!(error.pointer.starts_with("/output"), "{error:?}");
    }

    /// The text index takes the text computed here while the payloads are in hand; it
    /// must equal what it would compute from the stored record with its payloads read
    /// back from their blobs (the path after a restart).
    #[test]
    fn text_at_ingest_equals_text_of_the_stored_record() {
        let key = TokenKey::from_bytes([9; 32]);
        let mut with_numbers = event();
        with_numbers["output"] = json!({"amount": 1.0, "items": [2.50, "two", {"n": 12345.678}]});
        with_numbers["decision"] = json!({"action": "refund", "reason": "call +44 20 7946 0958"});
        let mut prepared = prepare_client_event(
            with_numbers,
            &submission(&key),
            &HashMap::new(),
            &mut rand::thread_rng(),
        )
        .unwrap();
        let at_ingest = prepared.text.take().unwrap();
        let mut stored = prepared.record.clone();
        for blob in &prepared.blobs {
            let field = PAYLOAD_FIELDS
                .iter()
                .find(|f| stored[**f]["$blob"] == json!(blob.reference.to_ref_string()))
                .unwrap();
            stored.insert(
                (*field).into(),
                crate::json::parse_value(&blob.bytes).unwrap(),
            );
        }
        assert_eq!(at_ingest, crate::text::searchable_text(&stored));
        assert!(at_ingest.contains("refund") && at_ingest.contains("two"));
        assert!(!at_ingest.contains("7946"), "tokenized before indexing");
    }

    #[test]
    fn delimited_replacement_leaves_longer_words() {
        assert_eq!(replace_delimited("cust-123 x", "cust-12", "T"), None);
        assert_eq!(
            replace_delimited("a cust-12, cust-12", "cust-12", "T").unwrap(),
            "a T, T"
        );
    }

    #[test]
    fn entry_bytes_are_canonical_and_carry_position() {
        let key = TokenKey::from_bytes([9; 32]);
        let prepared = prepare_client_event(
            event(),
            &submission(&key),
            &HashMap::new(),
            &mut rand::thread_rng(),
        )
        .unwrap();
        let bytes = entry_bytes(&prepared.record, 7, Some(3), None);
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed["seq"], json!(7));
        assert_eq!(parsed["trace_prev"], json!(3));
        assert_eq!(parsed["subject_prev"], Value::Null);
        assert_eq!(canonical_bytes(&parsed), bytes);
    }

    #[test]
    fn oversized_entries_are_refused() {
        let key = TokenKey::from_bytes([9; 32]);
        let mut big = event();
        big["notes"] = json!("x".repeat(70_000));
        let err = prepare_client_event(
            big,
            &submission(&key),
            &HashMap::new(),
            &mut rand::thread_rng(),
        )
        .unwrap_err();
        assert!(err.message.contains("65535"), "{err}");
    }

    /// The events of a request share matchers (one per set of declared and remembered
    /// identifiers): each is tokenized exactly as if prepared alone.
    #[test]
    fn events_sharing_matchers_are_tokenized_as_if_alone() {
        let key = TokenKey::from_bytes([9; 32]);
        let with = |declared: Value, text: &str| {
            let mut e = event();
            e["context"]["subject_identifiers"] = declared;
            e["input"] = json!({ "body": text });
            e
        };
        let remembered = [("NAME".to_owned(), "Anna Berg".to_owned())];
        let cases = [
            (json!({"name": "Wei Novak"}), "Novak, Wei and A. Berg"),
            (json!({"name": "Wei  Novak"}), "W. Novak wrote to anna berg"),
            (
                json!({"name": "Wei Novak", "customer_id": "C-1042"}),
                "c-1042 Wei Novak",
            ),
            (json!({"name": "Anna Berg"}), "Berg, Anna; not Wei Novak"),
            (json!({}), "Anna Berg and Wei Novak"),
        ];
        let mut shared = Matchers::default();
        for (declared, text) in cases {
            let alone = prepare_client_event_remembering(
                with(declared.clone(), text),
                &submission(&key),
                &HashMap::new(),
                &remembered,
                &mut rand::thread_rng(),
            )
            .unwrap();
            let sharing = prepare_client_event_matching(
                with(declared, text),
                &submission(&key),
                &HashMap::new(),
                &remembered,
                &mut shared,
                &mut rand::thread_rng(),
            )
            .unwrap();
            assert_eq!(sharing.text, alone.text, "{text}");
            assert_eq!(sharing.record["context"], alone.record["context"]);
            let findings = |p: &PreparedEvent| {
                p.pii
                    .iter()
                    .chain(&p.identifiers)
                    .map(|f| (f.token.clone(), f.kind.clone(), f.value.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(findings(&sharing), findings(&alone), "{text}");
            assert!(!alone.text.as_deref().unwrap().contains("Berg"), "{text}");
        }
    }
}
