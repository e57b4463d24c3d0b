//! Evidence bundles (CONTRACT section 8): the members a bundle holds, its manifest,
//! and [`verify_bundle`], the offline check of a bundle's members. Pure: the archive
//! (POSIX ustar, read and written by the server crate) reaches it as a map of member
//! paths to bytes, so `evident verify-bundle` and its tests share one check, and the
//! standalone JavaScript verifier (`web/verifier/evident-verify.js`) mirrors it.
//!
//! Layout, every path under `evidence/` (docs/evidence.md):
//!
//! | member | what |
//! |---|---|
//! | `README.txt`, `verify.html` | conveniences: how to check by hand; the verifier page |
//! | `manifest.json` | the selection, what was listed (erased and purged blobs, unknown artifacts, the policy versions of each `policy_snapshot`), every other member's SHA-256 |
//! | `checkpoint` | the signed checkpoint, verbatim as the log serves it |
//! | `log.vkey` | the log's verifier key (never trusted: the key is pinned by the reader) |
//! | `entries/<seq>.json` | an entry's bytes (its leaf is SHA-256(0x00 ‖ bytes)) |
//! | `proofs/<seq>.tlog-proof` | its C2SP tlog-proof against `checkpoint` |
//! | `blobs/<hex>`, `blobs/<hex>.salt` | a payload and its 32-byte salt: SHA-256(salt ‖ payload) = hex |
//! | `artifacts/<content_hash>.json` | an artifact version's content (RFC 8785 bytes) |
//! | `policies/<sha256>.cedar` | a policy version's text |
//!
//! Nothing in the manifest or README is trusted: every content byte is checked against
//! the signed checkpoint, through the inclusion proofs, the commitments in the entries
//! and the hashes in the publish entries; the manifest only says what was selected and
//! what could not be shipped, and each claim is checked where it can be.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::blob::{hex, parse_blob_ref, BlobRef, SALT_LEN};
use crate::verify::{chain_from, check_commitment, check_entry, ChainStart, VerifierKeys};

/// The `format` of a manifest this code writes and reads.
pub const FORMAT: &str = "evident-evidence-bundle/1";
/// Every member lives under this directory.
pub const ROOT: &str = "evidence/";
pub const README: &str = "evidence/README.txt";
pub const HTML: &str = "evidence/verify.html";
pub const MANIFEST: &str = "evidence/manifest.json";
pub const CHECKPOINT: &str = "evidence/checkpoint";
pub const VKEY: &str = "evidence/log.vkey";

pub fn entry_path(seq: u64) -> String {
    format!("{ROOT}entries/{seq}.json")
}

pub fn proof_path(seq: u64) -> String {
    format!("{ROOT}proofs/{seq}.tlog-proof")
}

pub fn blob_path(reference: &BlobRef) -> String {
    format!("{ROOT}blobs/{}", hex(&reference.0))
}

pub fn salt_path(reference: &BlobRef) -> String {
    format!("{ROOT}blobs/{}.salt", hex(&reference.0))
}

pub fn artifact_path(content_hash: &str) -> String {
    format!("{ROOT}artifacts/{content_hash}.json")
}

pub fn policy_path(sha256: &str) -> String {
    format!("{ROOT}policies/{sha256}.cedar")
}

/// What a bundle was cut for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// `trace`, `subject` (a `subj_` token), `job` or `case`.
    pub kind: SelectionKind,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectionKind {
    Trace,
    Subject,
    Job,
    Case,
}

impl SelectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Subject => "subject",
            Self::Job => "job",
            Self::Case => "case",
        }
    }

    /// The back-link that chains this selection's entries, if it has one.
    pub fn back_link(self) -> Option<&'static str> {
        match self {
            Self::Trace => Some("trace_prev"),
            Self::Subject => Some("subject_prev"),
            Self::Job | Self::Case => None,
        }
    }

    /// Whether the entry (parsed) belongs to a selection of this kind with `id`.
    pub fn matches(self, entry: &Value, id: &str) -> bool {
        let field = match self {
            Self::Trace => entry.get("trace_id"),
            Self::Subject => entry.pointer("/context/subject"),
            Self::Job => entry.pointer("/context/job_id"),
            Self::Case => entry.pointer("/context/case_id"),
        };
        field.and_then(Value::as_str) == Some(id)
    }
}

/// A blob an entry references: shipped, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobListing {
    #[serde(rename = "ref")]
    pub reference: String,
    /// `included`, `erased` (its subject's key was destroyed) or `purged` (retention).
    pub status: String,
    /// The first entry of the bundle that references it.
    pub seq: u64,
}

/// An artifact version a snapshot names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactListing {
    pub kind: String,
    pub name: String,
    pub version: String,
    /// Its content's SHA-256 and the `seq` of its `artifact_publish` entry; `None` if
    /// the registry holds no such version (`unknown`).
    pub content_hash: Option<String>,
    pub seq: Option<u64>,
    #[serde(default)]
    pub unknown: bool,
}

/// One policy set version a `policy_snapshot` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySetVersion {
    pub id: String,
    pub version: u64,
}

/// The policy set versions that were active under one `policy_snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshotListing {
    pub policy_snapshot: String,
    pub versions: Vec<PolicySetVersion>,
}

/// A member with its SHA-256 (lowercase hex) and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberListing {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// `manifest.json`. Written last, so a bundle streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub selection: Selection,
    /// The size of the tree the bundle's checkpoint signs: entries from this `seq` on
    /// are not covered by it.
    pub checkpoint_size: u64,
    /// The selected entries' `seq`s, ascending.
    pub entries: Vec<u64>,
    /// The `artifact_publish` and `policy_publish` entries that bind the artifacts
    /// and policies to the log.
    pub supporting: Vec<u64>,
    pub blobs: Vec<BlobListing>,
    pub artifacts: Vec<ArtifactListing>,
    pub policy_snapshots: Vec<PolicySnapshotListing>,
    pub members: Vec<MemberListing>,
}

/// A member's SHA-256, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The artifact kind each `snapshot` member names (CONTRACT sections 1 and 6; the
/// server's registry links use the same table).
pub const SNAPSHOT_KINDS: &[(&str, &str)] = &[
    ("prompt_version", "prompt"),
    ("tool_versions", "tool_schema"),
    ("model", "model"),
    ("retrieval_index_version", "retrieval_index"),
    ("workflow_version", "workflow"),
];

/// The `(kind, name, version)` artifacts an entry's `snapshot` names (`name@version`
/// values; `tool_versions` is an object of them).
pub fn snapshot_artifacts(entry: &Value) -> Vec<(String, String, String)> {
    let Some(Value::Object(snapshot)) = entry.get("snapshot") else {
        return Vec::new();
    };
    let mut refs = Vec::new();
    let mut add = |kind: &str, value: &Value| {
        if let Some((name, version)) = value.as_str().and_then(|v| v.split_once('@')) {
            refs.push((kind.to_owned(), name.to_owned(), version.to_owned()));
        }
    };
    for (member, kind) in SNAPSHOT_KINDS {
        match snapshot.get(*member) {
            Some(Value::Object(tools)) => tools.values().for_each(|v| add(kind, v)),
            Some(value) => add(kind, value),
            None => {}
        }
    }
    refs
}

/// Every `{"$blob": "sha256:<hex>"}` commitment anywhere in an entry (payloads, and
/// the governance blobs of server events, e.g. an approval's `diff`).
pub fn blob_refs(entry: &Value) -> Vec<BlobRef> {
    fn walk(value: &Value, out: &mut Vec<BlobRef>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(members) => {
                if let Some(reference) = members
                    .get("$blob")
                    .and_then(Value::as_str)
                    .and_then(parse_blob_ref)
                {
                    if !out.contains(&reference) {
                        out.push(reference);
                    }
                }
                members.values().for_each(|v| walk(v, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(entry, &mut out);
    out
}

/// `policy_snapshot` of set versions `(id, version, text sha256)` (CONTRACT section
/// 6; the encoding of `evident_policy::snapshot_of`, recomputed here so a verifier
/// needs no policy engine).
pub fn policy_snapshot_of(versions: &[(String, u64, String)]) -> String {
    let mut sorted: Vec<&(String, u64, String)> = versions.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let array = Value::Array(
        sorted
            .iter()
            .map(|(id, version, sha)| serde_json::json!([id, version, sha]))
            .collect(),
    );
    format!(
        "sha256:{}",
        sha256_hex(&crate::json::canonical_bytes(&array))
    )
}

/// Checks the witness cosignatures on the bundle's checkpoint against a witness
/// policy (C2SP tlog-cosignature; the policy's quorum), with the witnessing code's
/// own check ([`evident_tlog::witness::verify_quorum`]). Returns the names of the
/// witnesses that cosigned.
///
/// # Errors
/// A [`Finding`] naming the checkpoint: no checkpoint, a cosignature line by a policy
/// witness that does not verify, or a quorum not met.
pub fn check_witnesses(
    members: &Members,
    key: &str,
    policy: &evident_tlog::witness::WitnessPolicy,
) -> Result<Vec<String>, Finding> {
    let failure = |why: String| Finding {
        member: CHECKPOINT.to_owned(),
        seq: None,
        why,
    };
    let note = members
        .get(CHECKPOINT)
        .ok_or_else(|| failure("missing".into()))?;
    let note = std::str::from_utf8(note).map_err(|_| failure("not UTF-8".into()))?;
    evident_tlog::witness::verify_quorum(note, key.trim(), policy)
        .map_err(|e| failure(format!("witness quorum: {e}")))
}

/// One thing found wrong, naming the member (and the `seq` where there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub member: String,
    pub seq: Option<u64>,
    pub why: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{} (seq {seq}): {}", self.member, self.why),
            None => write!(f, "{}: {}", self.member, self.why),
        }
    }
}

/// What [`verify_bundle`] found.
#[derive(Debug, Clone, Default)]
pub struct BundleReport {
    pub selection: Option<Selection>,
    /// The checkpoint's size, once it verified.
    pub checkpoint_size: Option<u64>,
    /// Entries proven in the checkpoint.
    pub entries: usize,
    /// Payloads that opened their commitments.
    pub blobs: usize,
    /// Erased or purged blobs: listed, not shipped (not failures).
    pub not_shipped: Vec<String>,
    pub notes: Vec<String>,
    pub failures: Vec<Finding>,
}

impl BundleReport {
    pub fn holds(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The members of a bundle, by path.
pub type Members = BTreeMap<String, Vec<u8>>;

struct Checker<'a> {
    members: &'a Members,
    report: BundleReport,
}

impl Checker<'_> {
    fn fail(&mut self, member: impl Into<String>, seq: Option<u64>, why: impl Into<String>) {
        self.report.failures.push(Finding {
            member: member.into(),
            seq,
            why: why.into(),
        });
    }
}

/// Checks a bundle's members against the log's verifier key `key` (pinned by the
/// caller): the checkpoint's signature, each entry's proof against it, each payload
/// against its commitment, each artifact and policy against its publish entry, each
/// `policy_snapshot` against the policy versions, completeness of a trace or subject
/// bundle through its back-links, and last that the members are the manifest's.
/// Every failure is reported, each naming its member.
pub fn verify_bundle(members: &Members, key: &str) -> BundleReport {
    let mut check = Checker {
        members,
        report: BundleReport::default(),
    };
    for path in members.keys() {
        if !path.starts_with(ROOT) {
            check.fail(path, None, "outside the evidence/ directory");
        }
    }
    if let Some(bundled) = members.get(VKEY) {
        if String::from_utf8_lossy(bundled).trim() != key.trim() {
            check.fail(VKEY, None, "differs from the pinned verifier key");
        }
    }

    let checkpoint_text = members.get(CHECKPOINT);
    let checkpoint = match checkpoint_text {
        None => {
            check.fail(CHECKPOINT, None, "missing");
            None
        }
        Some(note) => match VerifierKeys::one(key.trim()).open(note) {
            Ok(checkpoint) => Some(checkpoint),
            Err(e) => {
                check.fail(CHECKPOINT, None, format!("does not verify: {e}"));
                None
            }
        },
    };
    check.report.checkpoint_size = checkpoint.as_ref().map(|c| c.size);

    let manifest: Option<Manifest> = match members.get(MANIFEST) {
        None => {
            check.fail(MANIFEST, None, "missing");
            None
        }
        Some(bytes) => match serde_json::from_slice::<Manifest>(bytes) {
            Ok(m) if m.format == FORMAT => {
                // One form only, so that no byte of it can change unnoticed.
                if serde_json::to_vec_pretty(&m).ok().as_deref() != Some(bytes.as_slice()) {
                    check.fail(MANIFEST, None, "not in the one form this format writes");
                }
                Some(m)
            }
            Ok(m) => {
                check.fail(
                    MANIFEST,
                    None,
                    format!("format {:?} is not {FORMAT}", m.format),
                );
                None
            }
            Err(e) => {
                check.fail(MANIFEST, None, format!("not a manifest: {e}"));
                None
            }
        },
    };
    check.report.selection = manifest.as_ref().map(|m| m.selection.clone());

    let entries = check_entries(&mut check, checkpoint_text, checkpoint.as_ref());
    check.report.entries = if checkpoint.is_some() {
        entries.len()
    } else {
        0
    };
    check_blobs(&mut check, &entries, manifest.as_ref());
    let publishes = check_publishes(&mut check, &entries);
    if let Some(manifest) = &manifest {
        check_selection(&mut check, &entries, &publishes, manifest);
        check_manifest_claims(&mut check, &entries, manifest);
        check_manifest_members(&mut check, manifest);
    }
    if let Some(checkpoint) = &checkpoint {
        check.report.notes.push(format!(
            "the bundle was cut at the checkpoint of size {}: entries from seq {} on are not covered",
            checkpoint.size, checkpoint.size
        ));
    }
    check.report
}

/// Entries proven in the checkpoint, parsed, by `seq`.
fn check_entries(
    check: &mut Checker<'_>,
    checkpoint_text: Option<&Vec<u8>>,
    checkpoint: Option<&evident_tlog::Checkpoint>,
) -> BTreeMap<u64, Value> {
    let mut entries = BTreeMap::new();
    let members = check.members;
    for (path, bytes) in members {
        let Some(seq) = seq_of(path, "entries/", ".json") else {
            continue;
        };
        if let Err(why) = check_entry(seq, bytes) {
            check.fail(path, Some(seq), why);
            continue;
        }
        let proof_name = proof_path(seq);
        let Some(proof_bytes) = members.get(&proof_name) else {
            check.fail(
                &proof_name,
                Some(seq),
                "missing: the entry has no inclusion proof",
            );
            continue;
        };
        let proof = match evident_tlog::parse_tlog_proof(proof_bytes) {
            Ok(proof) => proof,
            Err(e) => {
                check.fail(&proof_name, Some(seq), format!("not a tlog-proof: {e}"));
                continue;
            }
        };
        if proof.index != seq {
            check.fail(
                &proof_name,
                Some(seq),
                format!("its index is {}, not {seq}", proof.index),
            );
            continue;
        }
        if Some(proof.checkpoint.as_bytes()) != checkpoint_text.map(Vec::as_slice) {
            check.fail(
                &proof_name,
                Some(seq),
                "its checkpoint is not the bundle's checkpoint",
            );
            continue;
        }
        if let Some(checkpoint) = checkpoint {
            let leaf = evident_tlog::leaf_hash(bytes);
            if let Err(e) = evident_tlog::verify_inclusion(
                seq,
                checkpoint.size,
                leaf,
                checkpoint.root,
                &proof.hashes,
            ) {
                check.fail(
                    format!("{path} / {proof_name}"),
                    Some(seq),
                    format!("the entry is not proven in the checkpoint: {e}"),
                );
                continue;
            }
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(value) => {
                entries.insert(seq, value);
            }
            Err(e) => check.fail(path, Some(seq), format!("not JSON: {e}")),
        }
    }
    for path in members.keys() {
        if let Some(seq) = seq_of(path, "proofs/", ".tlog-proof") {
            if !members.contains_key(&entry_path(seq)) {
                check.fail(
                    path,
                    Some(seq),
                    "a proof of an entry the bundle does not hold",
                );
            }
        }
    }
    entries
}

/// `evidence/<dir><seq><suffix>` → `seq` (canonical decimal only).
fn seq_of(path: &str, dir: &str, suffix: &str) -> Option<u64> {
    let digits = path
        .strip_prefix(ROOT)?
        .strip_prefix(dir)?
        .strip_suffix(suffix)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

fn check_blobs(
    check: &mut Checker<'_>,
    entries: &BTreeMap<u64, Value>,
    manifest: Option<&Manifest>,
) {
    let listed: HashMap<&str, &str> = manifest
        .map(|m| {
            m.blobs
                .iter()
                .filter(|b| b.status != "included")
                .map(|b| (b.reference.as_str(), b.status.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut referenced: BTreeMap<BlobRef, u64> = BTreeMap::new();
    for (seq, entry) in entries {
        for reference in blob_refs(entry) {
            referenced.entry(reference).or_insert(*seq);
        }
    }
    let members = check.members;
    for (reference, seq) in &referenced {
        let (bytes_path, salt_name) = (blob_path(reference), salt_path(reference));
        match (members.get(&bytes_path), members.get(&salt_name)) {
            (Some(bytes), Some(salt)) => {
                let opened = <[u8; SALT_LEN]>::try_from(salt.as_slice())
                    .map_err(|_| format!("the salt is {} bytes, not {SALT_LEN}", salt.len()))
                    .and_then(|salt| check_commitment(reference, &salt, bytes));
                match opened {
                    Ok(()) => check.report.blobs += 1,
                    Err(why) => check.fail(
                        format!("{bytes_path} / {salt_name}"),
                        Some(*seq),
                        format!("the payload and its salt do not open the commitment: {why}"),
                    ),
                }
            }
            (None, None) if listed.contains_key(reference.to_ref_string().as_str()) => {
                let status = listed[reference.to_ref_string().as_str()];
                check
                    .report
                    .not_shipped
                    .push(format!("blob {reference} (seq {seq}) is {status}"));
            }
            (None, _) => check.fail(
                bytes_path,
                Some(*seq),
                format!("missing: the payload of {reference}"),
            ),
            (_, None) => check.fail(
                salt_name,
                Some(*seq),
                format!("missing: the salt of {reference}"),
            ),
        }
    }
    for path in members.keys() {
        let Some(name) = path.strip_prefix(&format!("{ROOT}blobs/")) else {
            continue;
        };
        let hex_part = name.strip_suffix(".salt").unwrap_or(name);
        let known = parse_blob_ref(&format!("sha256:{hex_part}"))
            .is_some_and(|r| referenced.contains_key(&r));
        if !known {
            check.fail(path, None, "a blob no entry of the bundle references");
        }
    }
}

/// The publish entries the bundle holds, checked against the content they name.
struct Publishes {
    /// `(kind, name, version)` → `seq`.
    artifacts: HashMap<(String, String, String), u64>,
    /// `(id, version)` → `(seq, text sha256)`.
    policies: HashMap<(String, u64), (u64, String)>,
}

fn check_publishes(check: &mut Checker<'_>, entries: &BTreeMap<u64, Value>) -> Publishes {
    let mut publishes = Publishes {
        artifacts: HashMap::new(),
        policies: HashMap::new(),
    };
    let mut artifact_hashes = BTreeSet::new();
    let mut policy_hashes = BTreeSet::new();
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let members = check.members;
    for (seq, entry) in entries {
        let event_type = entry.get("event_type").and_then(Value::as_str);
        if event_type == Some("artifact_publish") {
            let Some(a) = entry.get("artifact") else {
                continue;
            };
            let (Some(kind), Some(name), Some(version), Some(hash)) = (
                text(a, "kind"),
                text(a, "name"),
                text(a, "version"),
                text(a, "content_hash"),
            ) else {
                continue;
            };
            check_content(
                check,
                &artifact_path(&hash),
                *seq,
                &hash,
                "content_hash",
                "artifact_publish",
            );
            artifact_hashes.insert(artifact_path(&hash));
            publishes.artifacts.insert((kind, name, version), *seq);
        }
        if event_type == Some("policy_publish") {
            let Some(p) = entry.get("policy") else {
                continue;
            };
            let (Some(id), Some(version), Some(hash)) = (
                text(p, "id"),
                p.get("version").and_then(Value::as_u64),
                text(p, "sha256"),
            ) else {
                continue;
            };
            check_content(
                check,
                &policy_path(&hash),
                *seq,
                &hash,
                "sha256",
                "policy_publish",
            );
            policy_hashes.insert(policy_path(&hash));
            publishes.policies.insert((id, version), (*seq, hash));
        }
    }
    for path in members.keys() {
        if path.starts_with(&format!("{ROOT}artifacts/")) && !artifact_hashes.contains(path) {
            check.fail(
                path,
                None,
                "an artifact no artifact_publish entry of the bundle names",
            );
        }
        if path.starts_with(&format!("{ROOT}policies/")) && !policy_hashes.contains(path) {
            check.fail(
                path,
                None,
                "a policy no policy_publish entry of the bundle names",
            );
        }
    }
    publishes
}

fn check_content(
    check: &mut Checker<'_>,
    path: &str,
    seq: u64,
    hash: &str,
    field: &str,
    event_type: &str,
) {
    match check.members.get(path) {
        None => check.fail(
            path,
            Some(seq),
            format!("missing: the content its {event_type} entry names"),
        ),
        Some(content) if sha256_hex(content) != hash => check.fail(
            path,
            Some(seq),
            format!("its SHA-256 is not the {field} of its {event_type} entry (seq {seq})"),
        ),
        Some(_) => {}
    }
}

fn check_selection(
    check: &mut Checker<'_>,
    entries: &BTreeMap<u64, Value>,
    publishes: &Publishes,
    manifest: &Manifest,
) {
    let selection = &manifest.selection;
    let selected: Vec<(u64, &Value)> = entries
        .iter()
        .filter(|(_, e)| selection.kind.matches(e, &selection.id))
        .map(|(seq, e)| (*seq, e))
        .collect();
    for seq in manifest.entries.iter().chain(&manifest.supporting) {
        let reported = check.report.failures.iter().any(|f| f.seq == Some(*seq));
        if !entries.contains_key(seq) && !reported {
            check.fail(
                entry_path(*seq),
                Some(*seq),
                "missing: the manifest lists it",
            );
        }
    }
    if selected.is_empty() {
        check.fail(
            MANIFEST,
            None,
            format!(
                "no entry of the bundle belongs to its {} {}",
                selection.kind.as_str(),
                selection.id
            ),
        );
        return;
    }
    let unknown: BTreeSet<(String, String, String)> = manifest
        .artifacts
        .iter()
        .filter(|a| a.unknown)
        .map(|a| (a.kind.clone(), a.name.clone(), a.version.clone()))
        .collect();
    let snapshots: HashMap<&str, &[PolicySetVersion]> = manifest
        .policy_snapshots
        .iter()
        .map(|s| (s.policy_snapshot.as_str(), s.versions.as_slice()))
        .collect();
    for (seq, entry) in &selected {
        let path = entry_path(*seq);
        for named in snapshot_artifacts(entry) {
            if !publishes.artifacts.contains_key(&named) && !unknown.contains(&named) {
                check.fail(
                    &path,
                    Some(*seq),
                    format!(
                        "its snapshot names {} {}@{}, whose artifact_publish entry is not in the bundle",
                        named.0, named.1, named.2
                    ),
                );
            }
        }
        let is_publish = entry.get("event_type").and_then(Value::as_str) == Some("policy_publish");
        let Some(digest) = entry
            .pointer("/snapshot/policy_snapshot")
            .and_then(Value::as_str)
        else {
            continue;
        };
        if is_publish {
            continue;
        }
        let Some(versions) = snapshots.get(digest) else {
            // A server event's snapshot is one Evident recorded: its versions must be
            // here. A client's is the client's claim, which the log may resolve to
            // nothing (CONTRACT 6: a snapshot that names nothing known is said so).
            if entry.pointer("/actor/type").and_then(Value::as_str) == Some("system") {
                check.fail(
                    &path,
                    Some(*seq),
                    format!(
                        "its policy_snapshot {digest} names policy versions the bundle does not carry"
                    ),
                );
            } else {
                check.report.notes.push(format!(
                    "seq {seq} (sent by {}) states policy_snapshot {digest}, which names no policy versions this log published: the client's claim, not resolved",
                    entry.pointer("/actor/id").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            continue;
        };
        let mut named = Vec::new();
        for v in versions.iter() {
            match publishes.policies.get(&(v.id.clone(), v.version)) {
                Some((_, sha)) => named.push((v.id.clone(), v.version, sha.clone())),
                None => check.fail(
                    &path,
                    Some(*seq),
                    format!(
                        "policy {} version {} of its policy_snapshot has no policy_publish entry in the bundle",
                        v.id, v.version
                    ),
                ),
            }
        }
        if named.len() == versions.len() && policy_snapshot_of(&named) != digest {
            check.fail(
                MANIFEST,
                Some(*seq),
                format!("the policy versions it lists do not hash to the policy_snapshot {digest}"),
            );
        }
    }
    let Some(link) = selection.kind.back_link() else {
        check.report.notes.push(format!(
            "a {} bundle has no back-links: that no entry of it was left out is not proven",
            selection.kind.as_str()
        ));
        return;
    };
    let chain: Vec<(u64, Option<u64>)> = selected
        .iter()
        .map(|(seq, e)| (*seq, e.get(link).and_then(Value::as_u64)))
        .collect();
    match chain_from(&chain) {
        Ok(ChainStart::Beginning) => {}
        Ok(ChainStart::After(prev)) => {
            let oldest = chain.first().map_or(0, |c| c.0);
            check.fail(
                entry_path(oldest),
                Some(oldest),
                format!("completeness: the oldest entry held links to seq {prev}, which the bundle does not hold"),
            );
        }
        Err(why) => {
            let seq = why
                .strip_prefix("seq ")
                .and_then(|rest| rest.split(':').next())
                .and_then(|s| s.parse().ok());
            let member = seq.map_or_else(|| MANIFEST.to_owned(), entry_path);
            check.fail(member, seq, format!("completeness: {why}"));
        }
    }
}

fn check_manifest_members(check: &mut Checker<'_>, manifest: &Manifest) {
    // Which of the two changed cannot be told: both are named.
    let members = check.members;
    let mut listed = BTreeSet::new();
    for m in &manifest.members {
        listed.insert(m.path.as_str());
        let both = format!("{} / {MANIFEST}", m.path);
        match members.get(&m.path) {
            None => check.fail(both, None, "missing: listed in the manifest"),
            Some(bytes) if sha256_hex(bytes) != m.sha256 => {
                check.fail(both, None, "its SHA-256 differs from the manifest's")
            }
            Some(_) => {}
        }
    }
    for path in members.keys() {
        if path != MANIFEST && !listed.contains(path.as_str()) {
            check.fail(
                format!("{path} / {MANIFEST}"),
                None,
                "not listed in the manifest",
            );
        }
    }
}

/// What the manifest says of the entries and blobs must be what the bundle holds:
/// the selected and supporting `seq`s, and each referenced blob listed once, as
/// `included` exactly when it is shipped.
fn check_manifest_claims(
    check: &mut Checker<'_>,
    entries: &BTreeMap<u64, Value>,
    manifest: &Manifest,
) {
    let selection = &manifest.selection;
    let (selected, supporting): (Vec<u64>, Vec<u64>) = entries
        .iter()
        .map(|(seq, e)| (*seq, selection.kind.matches(e, &selection.id)))
        .fold(
            (Vec::new(), Vec::new()),
            |(mut a, mut b), (seq, is_selected)| {
                if is_selected {
                    a.push(seq)
                } else {
                    b.push(seq)
                }
                (a, b)
            },
        );
    if selected != manifest.entries {
        check.fail(
            MANIFEST,
            None,
            "its `entries` are not the selected entries the bundle holds",
        );
    }
    if supporting != manifest.supporting {
        check.fail(
            MANIFEST,
            None,
            "its `supporting` are not the other entries the bundle holds",
        );
    }
    let mut referenced: BTreeMap<BlobRef, u64> = BTreeMap::new();
    for (seq, entry) in entries {
        for reference in blob_refs(entry) {
            referenced.entry(reference).or_insert(*seq);
        }
    }
    let mut listed: BTreeMap<String, &BlobListing> = BTreeMap::new();
    for listing in &manifest.blobs {
        if listed.insert(listing.reference.clone(), listing).is_some() {
            check.fail(
                MANIFEST,
                Some(listing.seq),
                format!("lists blob {} twice", listing.reference),
            );
        }
    }
    for (reference, seq) in &referenced {
        let shipped = check.members.contains_key(&blob_path(reference));
        match listed.remove(&reference.to_ref_string()) {
            None => check.fail(
                MANIFEST,
                Some(*seq),
                format!("does not list blob {reference}"),
            ),
            Some(l) if l.seq != *seq || (l.status == "included") != shipped => check.fail(
                MANIFEST,
                Some(*seq),
                format!("its listing of blob {reference} is not what the bundle holds"),
            ),
            Some(l) if !["included", "erased", "purged"].contains(&l.status.as_str()) => {
                check.fail(
                    MANIFEST,
                    Some(*seq),
                    format!("blob {reference}: unknown status {:?}", l.status),
                );
            }
            Some(_) => {}
        }
    }
    for reference in listed.keys() {
        check.fail(
            MANIFEST,
            None,
            format!("lists blob {reference}, which no entry references"),
        );
    }
}

#[cfg(test)]
mod tests {
    use evident_tlog::{
        encode_tlog_proof, integrate, leaf_hash, prove_inclusion, Checkpoint, LogSigner, TileMap,
    };
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// A trace bundle of `n` entries (every other one of trace `t`, the rest of `u`),
    /// built here from the specs, not by the exporter; and the log's verifier key.
    fn bundle(n: u64) -> (Members, String) {
        let mut entries = Vec::new();
        let (mut last_t, mut last_u) = (None::<u64>, None::<u64>);
        for seq in 0..n {
            let trace = if seq % 2 == 0 { "t" } else { "u" };
            let last = if trace == "t" {
                &mut last_t
            } else {
                &mut last_u
            };
            let entry = json!({
                "event_type": "tool_call", "seq": seq, "subject_prev": null,
                "trace_id": trace, "trace_prev": *last,
            });
            *last = Some(seq);
            entries.push(crate::json::canonical_bytes(&entry));
        }
        let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
        let step = integrate(0, &TileMap::new(), &leaves).unwrap();
        let tiles: TileMap = step.tiles.into_iter().collect();
        let (private, vkey) = LogSigner::generate("test.example/log").unwrap();
        let note = LogSigner::new(&private)
            .unwrap()
            .sign_checkpoint(&Checkpoint {
                origin: "test.example/log".into(),
                size: n,
                root: step.root,
            })
            .unwrap();
        let mut members = Members::new();
        members.insert(CHECKPOINT.into(), note.clone().into_bytes());
        members.insert(VKEY.into(), format!("{vkey}\n").into_bytes());
        let mut selected = Vec::new();
        for (seq, entry) in (0..n).zip(&entries) {
            if seq % 2 == 1 {
                continue;
            }
            selected.push(seq);
            let proof = prove_inclusion(seq, n, &tiles).unwrap();
            members.insert(entry_path(seq), entry.clone());
            members.insert(
                proof_path(seq),
                encode_tlog_proof(seq, &proof, &note, None).into_bytes(),
            );
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            selection: Selection {
                kind: SelectionKind::Trace,
                id: "t".into(),
            },
            checkpoint_size: n,
            entries: selected,
            supporting: Vec::new(),
            blobs: Vec::new(),
            artifacts: Vec::new(),
            policy_snapshots: Vec::new(),
            members: members
                .iter()
                .map(|(path, bytes)| MemberListing {
                    path: path.clone(),
                    sha256: sha256_hex(bytes),
                    size: bytes.len() as u64,
                })
                .collect(),
        };
        members.insert(
            MANIFEST.into(),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        );
        (members, vkey)
    }

    #[test]
    fn a_bundle_built_from_the_specs_verifies() {
        let (members, key) = bundle(9);
        let report = verify_bundle(&members, &key);
        assert!(report.holds(), "{:?}", report.failures);
        assert_eq!(report.entries, 5);
        assert_eq!(report.checkpoint_size, Some(9));
    }

    #[test]
    fn a_missing_middle_entry_is_a_completeness_failure() {
        let (mut members, key) = bundle(9);
        members.remove(&entry_path(4));
        members.remove(&proof_path(4));
        let report = verify_bundle(&members, &key);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.why.starts_with("completeness") && f.seq == Some(6)),
            "{:?}",
            report.failures
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any byte of any member changed, and the bundle fails naming that member.
        #[test]
        fn any_changed_byte_is_named(which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (mut members, key) = bundle(7);
            let paths: Vec<String> = members.keys().cloned().collect();
            let path = which.get(&paths).clone();
            let bytes = members.get_mut(&path).unwrap();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            let report = verify_bundle(&members, &key);
            prop_assert!(
                report.failures.iter().any(|f| f.member.split(" / ").any(|m| m == path)),
                "{path}: {:?}", report.failures
            );
        }

        /// Hostile members never make the verifier panic.
        #[test]
        fn arbitrary_members_never_panic(members in prop::collection::btree_map(
            prop::sample::select(vec![
                MANIFEST.to_owned(), CHECKPOINT.to_owned(), VKEY.to_owned(), entry_path(0),
                proof_path(0), entry_path(1), proof_path(1), format!("{ROOT}blobs/{}", "a".repeat(64)),
            ]),
            prop::collection::vec(any::<u8>(), 0..300),
            0..8,
        )) {
            let (_, key) = bundle(1);
            let _ = verify_bundle(&members, &key);
        }
    }
}
