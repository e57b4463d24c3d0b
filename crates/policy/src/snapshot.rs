//! `policy_snapshot` (CONTRACT section 6): one digest naming the active set versions.
//!
//! Encoding, so an outside verifier can recompute it: take the active sets as
//! `[id, version, text_sha256]` arrays (`id` a string, `version` an integer from 1,
//! `text_sha256` the lowercase hex SHA-256 of the set's text as UTF-8), sort them by
//! `id` (byte order), serialize the array of arrays with RFC 8785, hash the bytes
//! with SHA-256, and write `sha256:` followed by the lowercase hex digest. No active
//! set is the digest of `[]`.

use serde_json::{json, Value};
use sha2::Digest as _;

use crate::set::CompiledSet;

/// One set version as the snapshot names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetVersion {
    pub id: String,
    pub version: u64,
    /// Lowercase hex SHA-256 of the set's text.
    pub sha256: String,
}

impl SetVersion {
    pub fn of(set: &CompiledSet) -> Self {
        Self {
            id: set.id.clone(),
            version: set.version,
            sha256: set.text_sha256.clone(),
        }
    }
}

/// `sha256:<hex>` over the sorted versions (module docs).
pub fn snapshot_of(versions: &[SetVersion]) -> String {
    let mut sorted: Vec<&SetVersion> = versions.iter().collect();
    sorted.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
    let array = Value::Array(
        sorted
            .iter()
            .map(|v| json!([v.id, v.version, v.sha256]))
            .collect(),
    );
    let bytes = evident_core::json::canonical_bytes(&array);
    format!(
        "sha256:{}",
        evident_core::blob::hex(&sha2::Sha256::digest(&bytes))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_the_digest_of_the_documented_bytes() {
        let versions = [
            SetVersion {
                id: "refunds".into(),
                version: 2,
                sha256: "ab".into(),
            },
            SetVersion {
                id: "access".into(),
                version: 1,
                sha256: "cd".into(),
            },
        ];
        let bytes = br#"[["access",1,"cd"],["refunds",2,"ab"]]"#;
        let expected = format!(
            "sha256:{}",
            evident_core::blob::hex(&sha2::Sha256::digest(bytes))
        );
        assert_eq!(snapshot_of(&versions), expected);
        assert_ne!(snapshot_of(&versions[..1]), expected);
    }
}
