//! Entry bundles of C2SP tlog-tiles (`tile/entries/<N>[.p/<W>]`): "sequences of
//! big-endian uint16 length-prefixed log entries". Bundle `N` holds entries
//! `256·N ..`, up to 256 of them; entry `i` hashes to hash `i` of level-0 tile `N`.

use crate::tiles::TILE_WIDTH;
use crate::TlogError;

/// The largest entry a bundle can carry: the range of its 16-bit length prefix.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Encodes `entries` (1 to 256 of them) as an entry bundle.
///
/// # Errors
///
/// - [`TlogError::EntryTooLarge`] if an entry exceeds [`MAX_ENTRY_SIZE`].
/// - [`TlogError::MalformedEntryBundle`] for no entries or more than 256.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TlogError> {
    check_entry_count(entries.len())?;
    let total: usize = entries.iter().map(|entry| 2 + entry.as_ref().len()).sum();
    let mut bundle = Vec::with_capacity(total);
    for entry in entries {
        let bytes = entry.as_ref();
        let len = u16::try_from(bytes.len())
            .map_err(|_| TlogError::EntryTooLarge { len: bytes.len() })?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(bytes);
    }
    Ok(bundle)
}

/// Splits an entry bundle into its entries, borrowing from `bundle`.
///
/// # Errors
///
/// [`TlogError::MalformedEntryBundle`] if a length prefix or an entry is cut off,
/// or the bundle holds no entries or more than 256.
pub fn decode_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, TlogError> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        if entries.len() == usize::from(TILE_WIDTH) {
            return Err(TlogError::MalformedEntryBundle("more than 256 entries"));
        }
        let Some((prefix, after)) = rest.split_first_chunk::<2>() else {
            return Err(TlogError::MalformedEntryBundle("truncated length prefix"));
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        let Some((entry, after_entry)) = after.split_at_checked(len) else {
            return Err(TlogError::MalformedEntryBundle("truncated entry"));
        };
        entries.push(entry);
        rest = after_entry;
    }
    check_entry_count(entries.len())?;
    Ok(entries)
}

fn check_entry_count(count: usize) -> Result<(), TlogError> {
    if count == 0 {
        return Err(TlogError::MalformedEntryBundle("no entries"));
    }
    if count > usize::from(TILE_WIDTH) {
        return Err(TlogError::MalformedEntryBundle("more than 256 entries"));
    }
    Ok(())
}
