//! Evidence bundles out (CONTRACT section 8): [`export`] writes the entries of one
//! trace, subject, job or case, with everything a third party needs to check them
//! offline, as a POSIX ustar archive; [`read_bundle`] reads one back for
//! `evident verify-bundle`, whose checks are `evident_core::bundle::verify_bundle`.
//!
//! **Why tar.** A tar archive streams: members are written as they are produced and
//! there is no central directory to hold until the end (a zip's), so a 100k-event case
//! is exported in bounded memory; a ustar header is 512 bytes a few lines of
//! JavaScript can parse, which the standalone verifier does; and `tar` and Python's
//! `tarfile` are everywhere a third party looks. Member paths are kept under the
//! 100 bytes of a plain ustar name (seqs, hex digests), so no extension is needed.
//!
//! **Memory.** Entries are read a page at a time in `seq` order, each page's proofs
//! built from one read of the tiles they need, and written at once with their
//! payloads: no entry, proof or payload is held past its page. What is kept to the end
//! is the manifest (written last): a path, digest and size per member, about 150 bytes
//! each and up to six members an entry, and the distinct artifacts and policy
//! snapshots named. So memory grows by about 1 KB an entry, not with payload sizes
//! (BENCHMARKS.md has the 100k-event figure).
//!
//! **One checkpoint.** Every proof is against the latest signed checkpoint, taken
//! first, verbatim as the log serves it; entries after it are not in the bundle, and
//! the README says so.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Read, Write};
use std::time::Duration;

use evident_core::blob::BlobRef;
use evident_core::bundle::{
    self, ArtifactListing, BlobListing, Manifest, MemberListing, Members, PolicySetVersion,
    PolicySnapshotListing, Selection, SelectionKind,
};
use evident_store::artifacts::ArtifactSelector;
use evident_store::{SearchOrder, SearchQuery, StoreError, StoredBlob, StoredCheckpoint};
use evident_tlog::{Hash, TileMap};
use serde_json::Value;

use crate::state::App;
use crate::vault::BlobContent;

/// Entries read, proven and written per step.
const PAGE: usize = 500;

/// How long an export waits for a checkpoint covering the entries already
/// appended (one is signed within 1 s of an append, CONTRACT section 3).
const CHECKPOINT_WAIT: Duration = Duration::from_millis(1_500);

/// The standalone verifier, embedded in each bundle's `verify.html`.
const VERIFIER_JS: &str = include_str!("../../../web/verifier/evident-verify.js");
const VERIFIER_HTML: &str = include_str!("../../../web/verifier/verify.html");

/// Why a bundle could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The selection's id is not a usable id.
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("no checkpoint has been signed yet; retry in a second")]
    NoCheckpoint,
    /// Nothing the latest checkpoint covers belongs to the selection.
    #[error("no entry of {kind} {id} is covered by the latest checkpoint")]
    NothingSelected { kind: &'static str, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct ExportSummary {
    pub entries: u64,
    pub supporting: u64,
    pub blobs: u64,
    pub not_shipped: u64,
    pub checkpoint_size: u64,
}

/// The selection of an export, validated; a subject is given as its token.
///
/// # Errors
/// [`EvidenceError::Invalid`] naming the field for an empty or oversized id.
pub fn selection(kind: SelectionKind, id: &str) -> Result<Selection, EvidenceError> {
    let field = match kind {
        SelectionKind::Trace => "trace_id",
        SelectionKind::Subject => "subject",
        SelectionKind::Job => "job_id",
        SelectionKind::Case => "case_id",
    };
    if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
        return Err(EvidenceError::Invalid {
            field,
            why: "must be a non-empty id of at most 1024 characters".into(),
        });
    }
    if kind == SelectionKind::Subject && !evident_core::token::is_subject_token(id) {
        return Err(EvidenceError::Invalid {
            field,
            why: "must be a subj_ token here (send a clear identifier in a request body)".into(),
        });
    }
    Ok(Selection {
        kind,
        id: id.to_owned(),
    })
}

/// Writes members into a tar archive. Each one's listing for the manifest (path,
/// SHA-256, size) goes to a temporary file as it is written, already in the form the
/// manifest prints it, so the listings of a large bundle are not held in memory.
struct BundleWriter<W: Write> {
    tar: tar::Builder<W>,
    listing: std::io::BufWriter<std::fs::File>,
    listing_len: u64,
    mtime: u64,
}

/// The `"members": [...]` the manifest ends with, as `serde_json::to_vec_pretty`
/// prints a [`Manifest`] whose `members` is empty, and what it becomes around the
/// listings (the same printer's form, which `verify_bundle` requires).
const EMPTY_MEMBERS_END: &str = "\n  \"members\": []\n}";
const MEMBERS_START: &str = "\n  \"members\": [\n";
const MEMBERS_END: &str = "\n  ]\n}";

impl<W: Write> BundleWriter<W> {
    fn header(&self, path: &str, size: u64) -> std::io::Result<tar::Header> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        Ok(header)
    }

    fn add(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        let header = self.header(path, bytes.len() as u64)?;
        self.tar.append(&header, bytes)?;
        let listing = serde_json::to_string_pretty(&MemberListing {
            path: path.to_owned(),
            sha256: bundle::sha256_hex(bytes),
            size: bytes.len() as u64,
        })
        .map_err(std::io::Error::other)?;
        // Indented by one array level, as the pretty printer nests it.
        let indented = listing.replace('\n', "\n    ");
        let separator = if self.listing_len == 0 {
            "    "
        } else {
            ",\n    "
        };
        self.listing.write_all(separator.as_bytes())?;
        self.listing.write_all(indented.as_bytes())?;
        self.listing_len += (separator.len() + indented.len()) as u64;
        Ok(())
    }

    /// Writes the manifest, last: `manifest` (with no members) and the listings.
    fn finish(mut self, manifest: &Manifest) -> std::io::Result<()> {
        let printed = serde_json::to_string_pretty(manifest).map_err(std::io::Error::other)?;
        let head = printed
            .strip_suffix(EMPTY_MEMBERS_END)
            .ok_or_else(|| std::io::Error::other("the manifest does not end with its members"))?;
        let head = format!("{head}{MEMBERS_START}");
        let size = head.len() as u64 + self.listing_len + MEMBERS_END.len() as u64;
        let header = self.header(bundle::MANIFEST, size)?;
        self.listing.flush()?;
        let mut listing = self.listing.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut listing)?;
        let body = head
            .as_bytes()
            .chain(std::io::BufReader::new(listing))
            .chain(MEMBERS_END.as_bytes());
        self.tar.append(&header, body)?;
        self.tar.finish()
    }
}

/// The signed checkpoint a bundle is cut at: the one `/checkpoint` serves (with
/// witnesses, the newest that reached its quorum, with its cosignature lines), after
/// waiting briefly (on a signing server) for one that covers what is already appended.
async fn checkpoint_to_cut_at(app: &App) -> Result<StoredCheckpoint, EvidenceError> {
    let head = app.store.tree_head().await?;
    let deadline = tokio::time::Instant::now() + CHECKPOINT_WAIT;
    loop {
        let served = match crate::cosigning::served_checkpoint(app).await? {
            Some(note) => Some(stored_form(note)?),
            None => None,
        };
        let covers = served.as_ref().is_some_and(|c| c.size >= head.size);
        if covers || app.identity.signer.is_none() || tokio::time::Instant::now() >= deadline {
            return served.ok_or(EvidenceError::NoCheckpoint);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A served checkpoint note with the size and root its text names (its signatures were
/// made by this log; the bundle's reader checks them).
fn stored_form(note: String) -> Result<StoredCheckpoint, EvidenceError> {
    let body_len = note.find("\n\n").map_or(note.len(), |at| at + 1);
    let checkpoint = evident_tlog::Checkpoint::parse(&note.as_bytes()[..body_len])
        .map_err(|e| StoreError::Corrupt(format!("the served checkpoint: {e}")))?;
    Ok(StoredCheckpoint {
        size: checkpoint.size,
        root: checkpoint.root,
        note,
        created_micros: 0,
    })
}

/// Proofs of `seqs` in the tree of `checkpoint`, each checked against its root.
async fn proofs(
    app: &App,
    checkpoint: &StoredCheckpoint,
    seqs: &[(u64, Hash)],
) -> Result<Vec<Vec<Hash>>, EvidenceError> {
    let mut ids = BTreeSet::new();
    for (seq, _) in seqs {
        ids.extend(evident_tlog::tiles_for_inclusion(*seq, checkpoint.size));
    }
    let ids: Vec<_> = ids.into_iter().collect();
    let tiles: TileMap = app.store.read_tiles(&ids).await?;
    let mut out = Vec::with_capacity(seqs.len());
    for (seq, leaf) in seqs {
        let hashes = evident_tlog::prove_inclusion(*seq, checkpoint.size, &tiles)
            .map_err(|e| StoreError::Internal(format!("inclusion proof of {seq}: {e}")))?;
        evident_tlog::verify_inclusion(*seq, checkpoint.size, *leaf, checkpoint.root, &hashes)
            .map_err(|e| {
                StoreError::Corrupt(format!("built a bad inclusion proof for {seq}: {e}"))
            })?;
        out.push(hashes);
    }
    Ok(out)
}

/// The state of one export.
struct Export<'a, W: Write> {
    app: &'a App,
    out: BundleWriter<W>,
    checkpoint: StoredCheckpoint,
    blobs_written: HashSet<BlobRef>,
    blob_listings: Vec<BlobListing>,
    artifacts: BTreeSet<(String, String, String)>,
    policy_snapshots: BTreeSet<String>,
    summary: ExportSummary,
}

impl<W: Write> Export<'_, W> {
    /// Writes entries (with their proofs) and the payloads they reference.
    async fn write_entries(
        &mut self,
        entries: &[evident_store::StoredEntry],
        page_blobs: &[StoredBlob],
        selected: bool,
    ) -> Result<(), EvidenceError> {
        let leaves: Vec<(u64, Hash)> = entries
            .iter()
            .map(|e| (e.seq, evident_tlog::leaf_hash(&e.entry)))
            .collect();
        let proofs = proofs(self.app, &self.checkpoint, &leaves).await?;
        let by_ref: HashMap<BlobRef, &StoredBlob> =
            page_blobs.iter().map(|b| (b.reference, b)).collect();
        for (entry, hashes) in entries.iter().zip(proofs) {
            self.out.add(&bundle::entry_path(entry.seq), &entry.entry)?;
            let proof =
                evident_tlog::encode_tlog_proof(entry.seq, &hashes, &self.checkpoint.note, None);
            self.out
                .add(&bundle::proof_path(entry.seq), proof.as_bytes())?;
            let value: Value = serde_json::from_slice(&entry.entry).map_err(|e| {
                StoreError::Corrupt(format!("entry {} is not JSON: {e}", entry.seq))
            })?;
            for reference in bundle::blob_refs(&value) {
                self.write_blob(entry.seq, reference, by_ref.get(&reference).copied())
                    .await?;
            }
            if selected {
                self.artifacts.extend(bundle::snapshot_artifacts(&value));
                let is_publish =
                    value.get("event_type").and_then(Value::as_str) == Some("policy_publish");
                if let (Some(digest), false) = (
                    value
                        .pointer("/snapshot/policy_snapshot")
                        .and_then(Value::as_str),
                    is_publish,
                ) {
                    self.policy_snapshots.insert(digest.to_owned());
                }
            }
        }
        Ok(())
    }

    async fn write_blob(
        &mut self,
        seq: u64,
        reference: BlobRef,
        known: Option<&StoredBlob>,
    ) -> Result<(), EvidenceError> {
        if !self.blobs_written.insert(reference) {
            return Ok(());
        }
        let stored = match known {
            Some(blob) => Some(blob.clone()),
            None => self.app.store.blob(&reference).await?,
        };
        let status = match stored {
            Some(blob) => match self.app.vault.open_blob(&blob).await? {
                BlobContent::Readable { salt, bytes } => {
                    self.out.add(&bundle::blob_path(&reference), &bytes)?;
                    self.out.add(&bundle::salt_path(&reference), &salt)?;
                    self.summary.blobs += 1;
                    "included"
                }
                BlobContent::Erased => "erased",
            },
            None => {
                let purged = self.app.store.purged_blobs(&[reference]).await?;
                if !purged.contains_key(&reference) {
                    return Err(StoreError::Corrupt(format!(
                        "blob {reference} of seq {seq} is neither stored nor purged"
                    ))
                    .into());
                }
                "purged"
            }
        };
        if status != "included" {
            self.summary.not_shipped += 1;
        }
        self.blob_listings.push(BlobListing {
            reference: reference.to_ref_string(),
            status: status.to_owned(),
            seq,
        });
        Ok(())
    }

    /// Writes the publish entries `seqs` (those the checkpoint covers) with proofs.
    async fn write_supporting(&mut self, seqs: &BTreeSet<u64>) -> Result<(), EvidenceError> {
        for seq in seqs {
            let entries = self.app.store.read_entries(*seq, seq + 1).await?;
            self.write_entries(&entries, &[], false).await?;
            self.summary.supporting += entries.len() as u64;
        }
        Ok(())
    }
}

/// Exports the entries of `selection` that the latest checkpoint covers, as a bundle
/// written to `out`; `progress` is called with the number of entries written so far.
///
/// # Errors
/// See [`EvidenceError`]; nothing selected is an error, not an empty bundle.
pub async fn export<W: Write>(
    app: &App,
    selection: &Selection,
    out: W,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ExportSummary, EvidenceError> {
    let checkpoint = checkpoint_to_cut_at(app).await?;
    let mtime = u64::try_from(app.now_micros() / 1_000_000).unwrap_or(0);
    let mut export = Export {
        app,
        out: BundleWriter {
            tar: tar::Builder::new(out),
            listing: std::io::BufWriter::new(tempfile::tempfile()?),
            listing_len: 0,
            mtime,
        },
        checkpoint: checkpoint.clone(),
        blobs_written: HashSet::new(),
        blob_listings: Vec::new(),
        artifacts: BTreeSet::new(),
        policy_snapshots: BTreeSet::new(),
        summary: ExportSummary {
            checkpoint_size: checkpoint.size,
            ..ExportSummary::default()
        },
    };
    export
        .out
        .add(bundle::CHECKPOINT, checkpoint.note.as_bytes())?;
    let vkey = format!("{}\n", app.identity.verifier_key);
    export.out.add(bundle::VKEY, vkey.as_bytes())?;

    let mut selected = Vec::new();
    let mut after = None;
    loop {
        let query = selection_query(selection, after, checkpoint.size);
        let page = app.store.search_with_blobs(&query).await?;
        let Some(last) = page.entries.last() else {
            break;
        };
        after = Some(last.seq);
        selected.extend(page.entries.iter().map(|e| e.seq));
        export
            .write_entries(&page.entries, &page.blobs, true)
            .await?;
        export.summary.entries = selected.len() as u64;
        progress(export.summary.entries);
        if page.entries.len() < PAGE {
            break;
        }
    }
    if selected.is_empty() {
        return Err(EvidenceError::NothingSelected {
            kind: selection.kind.as_str(),
            id: selection.id.clone(),
        });
    }

    let selected_set: BTreeSet<u64> = selected.iter().copied().collect();
    let mut supporting = BTreeSet::new();
    let artifacts = write_artifacts(&mut export, &mut supporting).await?;
    let policy_snapshots = write_policies(&mut export, &mut supporting).await?;
    let supporting: BTreeSet<u64> = supporting.difference(&selected_set).copied().collect();
    export.write_supporting(&supporting).await?;

    let readme = readme(selection, &checkpoint, &export.summary);
    export.out.add(bundle::README, readme.as_bytes())?;
    let html = VERIFIER_HTML.replace("/*EVIDENT-VERIFY-JS*/", VERIFIER_JS);
    export.out.add(bundle::HTML, html.as_bytes())?;

    let manifest = Manifest {
        format: bundle::FORMAT.to_owned(),
        selection: selection.clone(),
        checkpoint_size: checkpoint.size,
        entries: selected,
        supporting: supporting.into_iter().collect(),
        blobs: std::mem::take(&mut export.blob_listings),
        artifacts,
        policy_snapshots,
        members: Vec::new(),
    };
    let summary = export.summary;
    export.out.finish(&manifest)?;
    Ok(summary)
}

fn selection_query(selection: &Selection, after: Option<u64>, before: u64) -> SearchQuery {
    let id = Some(selection.id.clone());
    let mut query = SearchQuery {
        after_seq: after,
        before_seq: Some(before),
        limit: PAGE,
        order: SearchOrder::Seq,
        ..SearchQuery::default()
    };
    match selection.kind {
        SelectionKind::Trace => query.trace_id = id,
        SelectionKind::Subject => query.subject = id,
        SelectionKind::Job => query.job_id = id,
        SelectionKind::Case => query.case_id = id,
    }
    query
}

/// Writes the content of every artifact version the selected snapshots name; their
/// `artifact_publish` entries go into `supporting`.
async fn write_artifacts<W: Write>(
    export: &mut Export<'_, W>,
    supporting: &mut BTreeSet<u64>,
) -> Result<Vec<ArtifactListing>, EvidenceError> {
    let mut listings = Vec::new();
    let mut written = HashSet::new();
    for (kind, name, version) in std::mem::take(&mut export.artifacts) {
        let found = export
            .app
            .store
            .artifact(
                &kind,
                &name,
                &ArtifactSelector::Version(version.clone()),
                None,
            )
            .await?
            .filter(|a| a.seq.is_some_and(|seq| seq < export.checkpoint.size));
        let listing = match found {
            Some(found) => {
                let a = found.artifact;
                if written.insert(a.content_hash.clone()) {
                    export.out.add(
                        &bundle::artifact_path(&a.content_hash),
                        a.content.as_bytes(),
                    )?;
                }
                supporting.extend(found.seq);
                ArtifactListing {
                    kind,
                    name,
                    version,
                    content_hash: Some(a.content_hash),
                    seq: found.seq,
                    unknown: false,
                }
            }
            None => ArtifactListing {
                kind,
                name,
                version,
                content_hash: None,
                seq: None,
                unknown: true,
            },
        };
        listings.push(listing);
    }
    Ok(listings)
}

/// Writes the text of every policy version active under each `policy_snapshot` the
/// selected entries name (replaying the activations); their `policy_publish` entries
/// go into `supporting`.
async fn write_policies<W: Write>(
    export: &mut Export<'_, W>,
    supporting: &mut BTreeSet<u64>,
) -> Result<Vec<PolicySnapshotListing>, EvidenceError> {
    let wanted = std::mem::take(&mut export.policy_snapshots);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let store = &export.app.store;
    // Each generation's active versions, and the digest they make.
    let mut active: BTreeMap<String, i64> = BTreeMap::new();
    let mut hashes: HashMap<(String, i64), String> = HashMap::new();
    let mut found: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    let empty = bundle::policy_snapshot_of(&[]);
    if wanted.contains(&empty) {
        found.insert(empty, Vec::new());
    }
    for activation in store.policy_activations().await? {
        active.insert(activation.set_id.clone(), activation.version);
        let mut versions = Vec::new();
        for (id, version) in &active {
            let key = (id.clone(), *version);
            if !hashes.contains_key(&key) {
                let sha = store
                    .policy_version(id, *version)
                    .await?
                    .map(|v| v.text_sha256)
                    .unwrap_or_default();
                hashes.insert(key.clone(), sha);
            }
            versions.push((
                id.clone(),
                u64::try_from(*version).unwrap_or(0),
                hashes[&key].clone(),
            ));
        }
        let digest = bundle::policy_snapshot_of(&versions);
        if wanted.contains(&digest) {
            found
                .entry(digest)
                .or_insert_with(|| active.iter().map(|(i, v)| (i.clone(), *v)).collect());
        }
    }
    let mut listings = Vec::new();
    let mut written = HashSet::new();
    for (digest, versions) in found {
        for (id, version) in &versions {
            let Some(policy) = store.policy_version(id, *version).await? else {
                continue;
            };
            if written.insert(policy.text_sha256.clone()) {
                export.out.add(
                    &bundle::policy_path(&policy.text_sha256),
                    policy.text.as_bytes(),
                )?;
            }
            if let Some(entry) = store.entry_by_event_id(&policy.event_id).await? {
                if entry.seq < export.checkpoint.size {
                    supporting.insert(entry.seq);
                }
            }
        }
        listings.push(PolicySnapshotListing {
            policy_snapshot: digest,
            versions: versions
                .into_iter()
                .map(|(id, version)| PolicySetVersion {
                    id,
                    version: u64::try_from(version).unwrap_or(0),
                })
                .collect(),
        });
    }
    Ok(listings)
}

/// The human README: what is inside, and how to check it by hand.
fn readme(selection: &Selection, checkpoint: &StoredCheckpoint, summary: &ExportSummary) -> String {
    let link = match selection.kind.back_link() {
        Some(link) => format!(
            "Completeness: each entry's `{link}` names the previous entry of the same {kind}.\n\
             Following them from the newest entry reaches every entry held and ends at\n\
             null, which proves nothing between the first and the newest entry was left out.\n",
            kind = selection.kind.as_str()
        ),
        None => format!(
            "Completeness: a {} has no back-links, so that no entry was left out is not\n\
             proven by this bundle (trace and subject bundles prove it).\n",
            selection.kind.as_str()
        ),
    };
    format!(
        "Evident evidence bundle: {kind} {id}\n\
         \n\
         {entries} entries of the {kind}, {supporting} publish entries binding the artifact\n\
         and policy versions they name, {blobs} payloads with their salts ({not_shipped} erased or\n\
         purged: listed in manifest.json, not shipped), cut at the signed checkpoint of size\n\
         {size}. Entries appended after that checkpoint (seq {size} and later) are NOT covered.\n\
         \n\
         {link}\
         \n\
         To check it: `evident verify-bundle FILE --key VKEY`, or open verify.html in a\n\
         browser (no network), or by hand with OpenSSL 3 and Python (docs/evidence.md):\n\
         1. checkpoint: an Ed25519 signed note; the signature line by the log's key\n\
            signs the text before the blank line. Pin the key (log.vkey is only a copy).\n\
         2. entries/SEQ.json: leaf = SHA-256(0x00 || bytes); proofs/SEQ.tlog-proof holds the\n\
            audit path (RFC 9162) from that leaf to the checkpoint's root.\n\
         3. blobs/HEX with blobs/HEX.salt: SHA-256(salt || payload) = HEX, the commitment\n\
            the entry holds.\n\
         4. artifacts/HASH.json and policies/HASH.cedar: SHA-256 of the file = HASH, named\n\
            by its artifact_publish / policy_publish entry.\n\
         manifest.json and this README are conveniences: nothing in them is trusted.\n",
        kind = selection.kind.as_str(),
        id = selection.id,
        entries = summary.entries,
        supporting = summary.supporting,
        blobs = summary.blobs,
        not_shipped = summary.not_shipped,
        size = checkpoint.size,
    )
}

/// The largest bundle member read back (entries are at most 64 KiB; payloads and
/// notes far less than this).
const MAX_MEMBER: u64 = 64 << 20;

/// Why a file is not a bundle archive.
#[derive(Debug, thiserror::Error)]
pub enum ReadBundleError {
    #[error("{member}: {why}")]
    Member { member: String, why: String },
    #[error("not a tar archive: {0}")]
    Archive(#[from] std::io::Error),
}

/// Reads a bundle archive into its members: regular files only, each path once.
///
/// # Errors
/// A member that is not a regular file, appears twice or is too large; a file that
/// is not a tar archive.
pub fn read_bundle(reader: impl Read) -> Result<Members, ReadBundleError> {
    let mut archive = tar::Archive::new(reader);
    let mut members = Members::new();
    for member in archive.entries()? {
        let mut member = member?;
        let path = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let fail = |why: &str| ReadBundleError::Member {
            member: path.clone(),
            why: why.to_owned(),
        };
        match member.header().entry_type() {
            tar::EntryType::Regular => {}
            tar::EntryType::Directory => continue,
            _ => return Err(fail("not a regular file")),
        }
        if member.size() > MAX_MEMBER {
            return Err(fail("too large"));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0));
        member.read_to_end(&mut bytes)?;
        if members.insert(path.clone(), bytes).is_some() {
            return Err(fail("appears twice"));
        }
    }
    Ok(members)
}
