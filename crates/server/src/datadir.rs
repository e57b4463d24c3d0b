//! The data dir's secrets and the log's identity: creating them once (`evident init`,
//! or the first `evident serve`) and loading them at every start.
//!
//! Layout:
//! - `evident.db` (+ `-wal`, `-shm`): the embedded store.
//! - `secrets/signing.key`: the log's Ed25519 note key (unless `--signing-key-file`
//!   puts it elsewhere).
//! - `secrets/token.key`: the HMAC key of subject and PII tokens.
//! - `secrets/master.key`: the master key that wraps every data key (unless
//!   `EVIDENT_MASTER_KEY_FILE` names a file elsewhere).
//! - `checkpoint`: the latest signed checkpoint, kept outside the database so that
//!   `evident verify` notices a database that lost committed entries.
//!
//! The store's `meta` table keeps the origin, the verifier key and a check value of
//! the token key, so a swapped or damaged secret file is caught at start and by
//! `evident verify` instead of silently producing other tokens or signatures.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use evident_core::token::TokenKey;
use evident_store::Store;
use evident_tlog::LogSigner;
use rand::RngCore;

use crate::auth::{generate_api_key, Role};
use crate::signing::Signers;
use crate::state::LogIdentity;
use crate::vault::MasterKey;
use evident_core::crypto::SecretKey;

pub const META_ORIGIN: &str = "origin";
pub const META_VERIFIER_KEY: &str = "verifier_key";
pub const META_TOKEN_KEY_CHECK: &str = "token_key_check";
pub const META_MASTER_EPOCH: &str = "master_epoch";
pub const META_MASTER_CHECK: &str = "master_check";

/// The file the latest checkpoint is mirrored to.
pub fn checkpoint_file(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoint")
}

/// Where the secrets of a data dir live.
#[derive(Debug, Clone)]
pub struct SecretPaths {
    pub signing_key: PathBuf,
    pub token_key: PathBuf,
    pub master_key: PathBuf,
}

impl SecretPaths {
    /// The default paths under `data_dir`, with the signing key moved if asked. The
    /// master key may live elsewhere: `EVIDENT_MASTER_KEY_FILE` names its file.
    pub fn new(data_dir: &Path, signing_key_file: Option<&Path>) -> Self {
        Self {
            signing_key: signing_key_file.map_or_else(
                || data_dir.join("secrets").join("signing.key"),
                Path::to_path_buf,
            ),
            token_key: data_dir.join("secrets").join("token.key"),
            master_key: std::env::var_os("EVIDENT_MASTER_KEY_FILE").map_or_else(
                || data_dir.join("secrets").join("master.key"),
                PathBuf::from,
            ),
        }
    }
}

/// The secrets a running log needs.
pub struct Secrets {
    pub identity: LogIdentity,
    pub token_key: TokenKey,
    pub master: MasterKey,
}

/// What initialising a store produced.
#[derive(Debug)]
pub struct Initialized {
    /// `false` if the store was already initialised (nothing was changed).
    pub created: bool,
    pub origin: String,
    pub verifier_key: String,
    /// The first admin key's secret, shown once; `None` if the store existed.
    pub admin_key: Option<String>,
}

/// Creates the log's secrets, identity and first admin key, unless they exist.
///
/// # Errors
/// I/O errors writing the secrets; store errors.
pub async fn initialize(
    store: &dyn Store,
    paths: &SecretPaths,
    origin: Option<&str>,
) -> anyhow::Result<Initialized> {
    if let Some(existing) = store.get_meta(META_ORIGIN).await? {
        let verifier_key = store.get_meta(META_VERIFIER_KEY).await?.unwrap_or_default();
        return Ok(Initialized {
            created: false,
            origin: existing,
            verifier_key,
            admin_key: None,
        });
    }
    // Secrets first: a crash before the meta rows are written leaves files that the
    // next attempt reuses, never a store whose identity has no key.
    let signer = match read_secret(&paths.signing_key)? {
        Some(text) => LogSigner::new(text.trim()).context("reading the signing key")?,
        None => {
            let origin = origin.map_or_else(default_origin, str::to_owned);
            let (private_key, _) = LogSigner::generate(&origin)?;
            write_secret(&paths.signing_key, &private_key)?;
            LogSigner::new(&private_key)?
        }
    };
    if let Some(wanted) = origin {
        if wanted != signer.name() {
            bail!(
                "the signing key at {} is for origin {:?}, not {wanted:?}",
                paths.signing_key.display(),
                signer.name()
            );
        }
    }
    let token_key = match read_secret(&paths.token_key)? {
        Some(text) => parse_token_key(&text)?,
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            write_secret(&paths.token_key, &evident_core::blob::hex(&bytes))?;
            TokenKey::from_bytes(bytes)
        }
    };
    let master = match read_secret(&paths.master_key)? {
        Some(text) => parse_key_hex(&text, "master key")?,
        None => {
            let key = SecretKey::generate(&mut rand::rngs::OsRng);
            write_secret(&paths.master_key, &evident_core::blob::hex(key.as_bytes()))?;
            key
        }
    };
    store.set_meta(META_MASTER_EPOCH, "1").await?;
    store
        .set_meta(META_MASTER_CHECK, &master_check(&master))
        .await?;
    let admin = generate_api_key(
        "admin",
        Role::Admin,
        Vec::new(),
        evident_core::time::now_utc_micros().1,
    );
    store.create_api_key(admin.record).await?;
    store
        .set_meta(META_TOKEN_KEY_CHECK, &token_key_check(&token_key))
        .await?;
    store
        .set_meta(META_VERIFIER_KEY, &signer.verifier_key())
        .await?;
    store.set_meta(META_ORIGIN, signer.name()).await?;
    Ok(Initialized {
        created: true,
        origin: signer.name().to_owned(),
        verifier_key: signer.verifier_key(),
        admin_key: Some(admin.secret),
    })
}

/// Loads the identity and token key of an initialised store, checking each secret
/// against what the store recorded.
///
/// # Errors
/// The store is not initialised, or a secret is missing or does not match.
pub async fn load(store: &dyn Store, paths: &SecretPaths) -> anyhow::Result<Secrets> {
    let origin = store
        .get_meta(META_ORIGIN)
        .await?
        .context("the store is not initialised; run `evident init` or `evident serve`")?;
    let verifier_key = store
        .get_meta(META_VERIFIER_KEY)
        .await?
        .context("the store has no verifier key")?;
    if evident_tlog::verifier_key_name(&verifier_key)
        .ok()
        .as_deref()
        != Some(origin.as_str())
    {
        bail!("the recorded verifier key {verifier_key} does not name the origin {origin:?}");
    }
    let history = crate::signing::history(store).await?;
    let signer = load_signers(paths, &origin, &history)?;
    let token_key = parse_token_key(
        &read_secret(&paths.token_key)?
            .with_context(|| format!("missing token key {}", paths.token_key.display()))?,
    )?;
    check_token_key(store, &token_key).await?;
    let master = load_master(store, paths).await?;
    Ok(Secrets {
        identity: LogIdentity {
            origin,
            verifier_key,
            signer,
        },
        token_key,
        master,
    })
}

/// The signing keys a process holds: the key file's, which must be the log's current
/// key, or the one before it while a rotation's new key waits in `FILE.next` (see
/// [`crate::signing`]). `None` if there is no key file (a server that does not sign).
fn load_signers(
    paths: &SecretPaths,
    origin: &str,
    history: &[crate::signing::KeyInForce],
) -> anyhow::Result<Option<Signers>> {
    let Some(text) = read_secret(&paths.signing_key)? else {
        return Ok(None);
    };
    let signer = LogSigner::new(text.trim()).context("reading the signing key")?;
    let newest = history.last().map(|k| k.verifier_key.as_str());
    let position = history
        .iter()
        .position(|k| k.verifier_key == signer.verifier_key());
    let Some(position) = position.filter(|_| signer.name() == origin) else {
        bail!(
            "the signing key at {} does not belong to this log (verifier key {})",
            paths.signing_key.display(),
            newest.unwrap_or_default()
        );
    };
    let signers = Signers::new(paths.signing_key.clone(), signer);
    if position + 1 < history.len() && newest.and_then(|k| signers.for_key(k)).is_none() {
        bail!(
            "the signing key at {} was retired by a rotation; this log now signs with {} (its private key belongs in that file, or in {} while the rotation finishes)",
            paths.signing_key.display(),
            newest.unwrap_or_default(),
            crate::signing::next_key_file(&paths.signing_key).display()
        );
    }
    Ok(Some(signers))
}

/// Loads the master key, finishing a rotation a crash interrupted.
///
/// # Errors
/// No master key matches what the store recorded.
pub async fn load_master(store: &dyn Store, paths: &SecretPaths) -> anyhow::Result<MasterKey> {
    let recorded = store
        .get_meta(META_MASTER_CHECK)
        .await?
        .context("the store has no master key check value")?;
    let epoch: u32 = store
        .get_meta(META_MASTER_EPOCH)
        .await?
        .and_then(|e| e.parse().ok())
        .unwrap_or(1);
    let current = read_secret(&paths.master_key)?
        .map(|t| parse_key_hex(&t, "master key"))
        .transpose()?;
    if let Some(key) = current.filter(|k| opens_check(k, &recorded)) {
        return Ok(MasterKey { key, epoch });
    }
    // A rotation wrote the new key beside the old one, re-wrapped the data keys and
    // recorded the new check value, but did not get to rename the file.
    let pending = paths.master_key.with_extension("key.new");
    if let Some(key) = read_secret(&pending)?
        .map(|t| parse_key_hex(&t, "new master key"))
        .transpose()?
        .filter(|k| opens_check(k, &recorded))
    {
        std::fs::rename(&pending, &paths.master_key).context("finishing a master key rotation")?;
        return Ok(MasterKey { key, epoch });
    }
    bail!(
        "the master key at {} does not match this store: it was changed or damaged",
        paths.master_key.display()
    )
}

/// Replaces the master key: a new one is written beside the old, every data key is
/// re-wrapped under it and the store records it, in the transaction that appends the
/// `key_change` event (see [`crate::keys::record_master_rotation`]), and the file is
/// renamed into place. Crash-safe at every step (see [`load_master`]).
///
/// # Errors
/// I/O or store errors; the old key stays valid unless the store committed.
pub async fn rotate_master(
    app: &crate::state::App,
    principal: &crate::auth::Principal,
    paths: &SecretPaths,
) -> anyhow::Result<(u32, u64)> {
    let old_epoch = app.vault.master_epoch();
    let new = MasterKey {
        key: SecretKey::generate(&mut rand::rngs::OsRng),
        epoch: old_epoch + 1,
    };
    let pending = paths.master_key.with_extension("key.new");
    let _ = std::fs::remove_file(&pending);
    write_secret(&pending, &evident_core::blob::hex(new.key.as_bytes()))?;
    let meta = vec![
        (META_MASTER_CHECK.to_owned(), master_check(&new.key)),
        (META_MASTER_EPOCH.to_owned(), new.epoch.to_string()),
    ];
    let (mut rewrapped, _) =
        crate::keys::record_master_rotation(app, principal, &new, meta).await?;
    // A server may have wrapped a new data key with the old master key while the
    // re-wrap ran (servers read the recorded check value before wrapping, so after
    // the commit above none will): re-wrap those stragglers too.
    for _ in 0..10 {
        let stragglers = app.vault.rewrap_all(&new).await?;
        if stragglers == 0 {
            break;
        }
        rewrapped += stragglers;
    }
    std::fs::rename(&pending, &paths.master_key).context("installing the new master key")?;
    Ok((new.epoch, rewrapped))
}

/// What `evident keys rotate-signing` did.
#[derive(Debug)]
pub struct SigningRotation {
    pub verifier_key: String,
    pub previous_verifier_key: String,
    /// The `seq` of the `key_change` entry announcing the new key.
    pub announced_at: u64,
    /// Whether the old key's last checkpoint (size `announced_at` + 1) was stored
    /// within the wait and the new key moved into the key file.
    pub took_over: bool,
}

/// Replaces the log's signing key (see [`crate::signing`] for the files and why each
/// step is crash-safe): a new key with the same name is written to `FILE.next` and
/// synced, its announcement commits with the key history
/// ([`crate::keys::record_signing_rotation`]), then, once a checkpoint signed with the
/// old key covers the announcement (the checkpointer of this process or of a running
/// server signs it), the new key is renamed over the old. Waits at most `wait` for
/// that checkpoint; if it does not come, the rename is left to the checkpointer.
///
/// # Errors
/// No signing key here; a rotation under way (`FILE.next` exists); I/O, store and
/// sequencer errors. The log changed only if the error says so.
pub async fn rotate_signing(
    app: &crate::state::App,
    principal: &crate::auth::Principal,
    paths: &SecretPaths,
    wait: std::time::Duration,
) -> anyhow::Result<SigningRotation> {
    use crate::signing;
    let key_file = &paths.signing_key;
    let next = signing::next_key_file(key_file);
    let old = match read_secret(key_file)? {
        Some(text) => LogSigner::new(text.trim()).context("reading the signing key")?,
        None => bail!(
            "no signing key at {}: rotate where the log's signing key is",
            key_file.display()
        ),
    };
    if next.exists() {
        let pending = read_secret(&next)?
            .and_then(|text| LogSigner::new(text.trim()).ok())
            .map(|signer| signer.verifier_key());
        let history = signing::history(app.store.as_ref()).await?;
        let named = pending.is_some_and(|key| history.iter().any(|k| k.verifier_key == key));
        if named {
            bail!(
                "a rotation is finishing: {} holds the new key, which takes over once a checkpoint covers its announcement (a running server signs it)",
                next.display()
            );
        }
        bail!(
            "{} exists but the log does not name its key: an earlier rotation stopped before it committed; remove the file and retry",
            next.display()
        );
    }
    let (private_key, _) = LogSigner::generate(&app.identity.origin)?;
    let new = LogSigner::new(&private_key)?;
    write_secret(&next, &private_key)?;
    sync_parent(&next)?;
    let recorded = crate::keys::record_signing_rotation(app, principal, &new.verifier_key()).await;
    let event = match recorded {
        Ok(event) => event,
        Err(e) => {
            // The file may go only if the log certainly does not name its key.
            let named = signing::history(app.store.as_ref())
                .await
                .map(|h| h.iter().any(|k| k.verifier_key == new.verifier_key()));
            if matches!(named, Ok(false)) {
                let _ = std::fs::remove_file(&next);
            }
            return Err(e.into());
        }
    };
    let last_of_old = event.seq + 1;
    let deadline = tokio::time::Instant::now() + wait;
    let mut took_over = false;
    loop {
        let latest = app.store.latest_checkpoint().await?.map_or(0, |c| c.size);
        if latest >= last_of_old {
            let history = signing::history(app.store.as_ref()).await?;
            signing::promote_next_key(key_file, &history, latest)
                .context("moving the new signing key into place")?;
            took_over = !next.exists();
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(SigningRotation {
        verifier_key: new.verifier_key(),
        previous_verifier_key: old.verifier_key(),
        announced_at: event.seq,
        took_over,
    })
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

/// A sealed known value: it opens only with the master key it was made with.
fn master_check(key: &SecretKey) -> String {
    evident_core::blob::hex(&key.seal(
        b"evident/master-check",
        b"evident/master-check",
        &mut rand::rngs::OsRng,
    ))
}

/// `true` if `key` is the master key whose check value is `check_hex`.
pub fn opens_check(key: &SecretKey, check_hex: &str) -> bool {
    decode_hex(check_hex).is_some_and(|sealed| key.open(&sealed, b"evident/master-check").is_ok())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_key_hex(text: &str, what: &str) -> anyhow::Result<SecretKey> {
    let bytes = decode_hex(text)
        .filter(|b| b.len() == 32)
        .with_context(|| format!("the {what} file must hold 64 hex digits"))?;
    Ok(SecretKey::from_bytes(bytes.try_into().unwrap_or([0; 32])))
}

/// Fails unless `key` is the token key this store was created with.
///
/// # Errors
/// The key does not match the recorded check value.
pub async fn check_token_key(store: &dyn Store, key: &TokenKey) -> anyhow::Result<()> {
    let recorded = store.get_meta(META_TOKEN_KEY_CHECK).await?;
    if recorded.as_deref() != Some(token_key_check(key).as_str()) {
        bail!("the token key does not match this store: it was changed or damaged");
    }
    Ok(())
}

/// A value that identifies the token key without revealing it.
fn token_key_check(key: &TokenKey) -> String {
    key.subject_token("evident/token-key-check")
}

fn parse_token_key(text: &str) -> anyhow::Result<TokenKey> {
    parse_key_hex(text, "token key").map(|k| TokenKey::from_bytes(*k.as_bytes()))
}

/// A random origin for a new log: origins must be unique per log.
fn default_origin() -> String {
    let mut bytes = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("evident.local/{}", evident_core::blob::hex(&bytes))
}

fn read_secret(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a secret readable by its owner only, durably.
fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}
