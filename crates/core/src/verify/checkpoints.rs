//! Checkpoints (CONTRACT section 3: C2SP tlog-checkpoint in a signed note): each is
//! signed by the key in force at its size, and a log's checkpoints grow.

use evident_tlog::{open_checkpoint, Checkpoint, Hash, TlogError};

use super::Failure;

/// The log's verifier keys (`<name>+<hex8>+<base64>`), each with the tree size from
/// which its checkpoints are signed by it. A log whose signing key was never rotated
/// has one, from size 0; after a rotation, checkpoints of the sizes before it stay
/// signed by the older key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKeys {
    /// `(from_size, key)`, by increasing `from_size`, the first from 0.
    keys: Vec<(u64, String)>,
}

impl VerifierKeys {
    /// One key for every size.
    pub fn one(key: impl Into<String>) -> Self {
        Self {
            keys: vec![(0, key.into())],
        }
    }

    /// Keys by the size from which they sign.
    ///
    /// # Errors
    /// No key, no key from size 0, or two from the same size.
    pub fn new(mut keys: Vec<(u64, String)>) -> Result<Self, String> {
        keys.sort_by_key(|(from, _)| *from);
        if keys.first().is_none_or(|(from, _)| *from != 0) {
            return Err("no verifier key for checkpoints from size 0".into());
        }
        if keys.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("two verifier keys from the same size".into());
        }
        Ok(Self { keys })
    }

    /// The key checkpoints of `size` are signed with.
    pub fn for_size(&self, size: u64) -> &str {
        let at = self.keys.partition_point(|(from, _)| *from <= size);
        // `new` guarantees a key from 0, so `at >= 1`.
        &self.keys[at.saturating_sub(1)].1
    }

    /// The keys with the size from which each signs, oldest first.
    pub fn keys(&self) -> &[(u64, String)] {
        &self.keys
    }

    /// The sizes at which a key hands over: each later key's `from_size` - 1, the
    /// last size the key before it signs. A checkpoint of that size, signed by the
    /// old key, covers the entry announcing the new one (the entry at `from_size` -
    /// 2), so trust in the first key carries over to every later one.
    pub fn handovers(&self) -> impl Iterator<Item = (u64, &str)> {
        self.keys
            .iter()
            .skip(1)
            .map(|(from, key)| (from.saturating_sub(1), key.as_str()))
    }

    /// Opens a signed checkpoint with the key in force at the size it names.
    ///
    /// # Errors
    /// Those of [`open_checkpoint`].
    pub fn open(&self, note: &[u8]) -> Result<Checkpoint, TlogError> {
        if self.keys.len() == 1 {
            return open_checkpoint(note, &self.keys[0].1);
        }
        // The size picks the key; the signature then vouches for the size.
        let body_len = note
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(note.len(), |at| at + 1);
        let claimed = Checkpoint::parse(&note[..body_len])?;
        open_checkpoint(note, self.for_size(claimed.size))
    }
}

impl From<&str> for VerifierKeys {
    fn from(key: &str) -> Self {
        Self::one(key)
    }
}

impl From<&String> for VerifierKeys {
    fn from(key: &String) -> Self {
        Self::one(key.as_str())
    }
}

/// Checks a log's stored checkpoints, given in increasing order of size: each signed
/// by the key in force at its size, and, where a key hands over, the old key's last
/// checkpoint stored (see [`VerifierKeys::handovers`]) unless none came after it yet.
#[derive(Debug, Default)]
pub struct CheckpointCheck {
    previous: Option<u64>,
    /// Checkpoints checked.
    pub count: u64,
}

impl CheckpointCheck {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks a stored checkpoint: its note verifies and names the stored size and
    /// root, and it is larger than the one before.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn check(
        &mut self,
        keys: &VerifierKeys,
        size: u64,
        root: Hash,
        note: &[u8],
    ) -> Result<(), Failure> {
        let failure = |why: String| Failure::Checkpoint { size, why };
        let opened = keys
            .open(note)
            .map_err(|e| failure(format!("signature or format does not verify: {e}")))?;
        if opened.size != size || opened.root != root {
            return Err(failure(
                "the signed note disagrees with the stored size or root".into(),
            ));
        }
        if self.previous.is_some_and(|p| p >= size) {
            return Err(failure("checkpoints are not increasing".into()));
        }
        let skipped = keys
            .handovers()
            .find(|(last, _)| self.previous.is_none_or(|p| p < *last) && *last < size);
        if let Some((last, key)) = skipped {
            return Err(Failure::Checkpoint {
                size: last,
                why: format!(
                    "missing: no checkpoint signed with the previous key covers the announcement of verifier key {key}"
                ),
            });
        }
        self.previous = Some(size);
        self.count += 1;
        Ok(())
    }
}

/// Opens a checkpoint saved earlier (`--against`).
///
/// # Errors
/// A [`Failure::Checkpoint`] if it does not verify.
pub fn open_saved(keys: &VerifierKeys, note: &[u8]) -> Result<Checkpoint, Failure> {
    keys.open(note).map_err(|e| Failure::Checkpoint {
        size: 0,
        why: format!("a saved checkpoint does not verify: {e}"),
    })
}
