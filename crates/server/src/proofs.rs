//! Inclusion and consistency proofs (CONTRACT section 3), built from the stored tiles
//! and checked against the root before they leave the server.

use evident_store::{Store, StoredCheckpoint};
use evident_tlog::Hash;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// `GET /api/v1/proofs/inclusion` answer; hashes are base64.
#[derive(Debug, Clone, Serialize)]
pub struct InclusionProof {
    pub seq: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    pub hashes: Vec<String>,
}

/// `GET /api/v1/proofs/consistency` answer; hashes are base64.
#[derive(Debug, Clone, Serialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub hashes: Vec<String>,
}

fn base64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

/// The latest checkpoint, or 409 if none was signed yet.
///
/// # Errors
/// 409 before the first checkpoint; store errors.
pub async fn latest_checkpoint(store: &dyn Store) -> ApiResult<StoredCheckpoint> {
    store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::conflict("no checkpoint has been signed yet; retry in a second"))
}

/// The root of the tree at `tree_size`, which must not exceed the integrated tree.
///
/// # Errors
/// 409 if the tree is smaller; store errors.
pub async fn root_at(store: &dyn Store, tree_size: u64) -> ApiResult<Hash> {
    let head = store.tree_head().await?;
    if tree_size > head.size {
        return Err(ApiError::conflict(format!(
            "tree_size {tree_size} is beyond the log's {} entries",
            head.size
        )));
    }
    if tree_size == head.size {
        return Ok(head.root);
    }
    let tiles = store
        .read_tiles(&evident_tlog::tiles_for_root(tree_size))
        .await?;
    evident_tlog::tree_root(tree_size, &tiles).map_err(ApiError::internal)
}

/// An inclusion proof of entry `seq` in the tree of `tree_size` (default: the latest
/// checkpoint's), verified before it is returned.
///
/// # Errors
/// 409 if `tree_size` does not cover `seq` or exceeds the log; 404 if no such entry.
pub async fn inclusion(
    store: &dyn Store,
    seq: u64,
    tree_size: Option<u64>,
) -> ApiResult<InclusionProof> {
    let tree_size = match tree_size {
        Some(size) => size,
        None => latest_checkpoint(store).await?.size,
    };
    if seq >= tree_size {
        return Err(ApiError::conflict(format!(
            "seq {seq} is not covered by tree_size {tree_size}"
        )));
    }
    let root = root_at(store, tree_size).await?;
    let entry = store
        .read_entries(seq, seq + 1)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("no entry at seq {seq}")))?;
    let leaf = evident_tlog::leaf_hash(&entry.entry);
    let tiles = store
        .read_tiles(&evident_tlog::tiles_for_inclusion(seq, tree_size))
        .await?;
    let hashes =
        evident_tlog::prove_inclusion(seq, tree_size, &tiles).map_err(ApiError::internal)?;
    evident_tlog::verify_inclusion(seq, tree_size, leaf, root, &hashes)
        .map_err(|e| ApiError::internal(format!("built a bad inclusion proof for {seq}: {e}")))?;
    Ok(InclusionProof {
        seq,
        tree_size,
        leaf_hash: leaf.to_base64(),
        root_hash: root.to_base64(),
        hashes: base64_all(&hashes),
    })
}

/// A consistency proof between tree sizes `from` and `to` (default: the latest
/// checkpoint's), verified before it is returned.
///
/// # Errors
/// 400 if `from > to`; 409 if `to` exceeds the log.
pub async fn consistency(
    store: &dyn Store,
    from: u64,
    to: Option<u64>,
) -> ApiResult<ConsistencyProof> {
    let to = match to {
        Some(size) => size,
        None => latest_checkpoint(store).await?.size,
    };
    if from > to {
        return Err(ApiError::parameter(
            "from",
            format!("must not exceed `to` ({to})"),
        ));
    }
    let new_root = root_at(store, to).await?;
    if from == 0 || from == to {
        // RFC 9162 section 2.1.4: an empty proof (nothing to prove from an empty tree,
        // and a tree is consistent with itself).
        return Ok(ConsistencyProof {
            from,
            to,
            hashes: Vec::new(),
        });
    }
    let old_root = root_at(store, from).await?;
    let tiles = store
        .read_tiles(&evident_tlog::tiles_for_consistency(from, to))
        .await?;
    let hashes = evident_tlog::prove_consistency(from, to, &tiles).map_err(ApiError::internal)?;
    evident_tlog::verify_consistency(from, to, old_root, new_root, &hashes).map_err(|e| {
        ApiError::internal(format!("built a bad consistency proof {from}..{to}: {e}"))
    })?;
    Ok(ConsistencyProof {
        from,
        to,
        hashes: base64_all(&hashes),
    })
}
