//! Hashes that bind governance to actions (CONTRACT sections 1 and 6): the `job_hash`
//! of a payload an agent asks to perform, that a decision answers, that an approver
//! approves (or edits into a `final`), and that an `external_action` quotes for what it
//! actually did. One definition, so `/decide`, approvals and the job view compare the
//! same thing.
//!
//! Out of scope: what a payload means, and guessability (a payload whose content is
//! guessable should carry a nonce, CONTRACT section 6).

use serde_json::Value;

/// Length of a `job_hash`: lowercase hex of a SHA-256.
pub const JOB_HASH_LEN: usize = 64;

/// The `job_hash` of `payload`: lowercase hex SHA-256 of its RFC 8785 bytes.
pub fn job_hash_of(payload: &Value) -> String {
    crate::blob::hex(&crate::json::sha256_canonical(payload))
}

/// Whether `text` has the shape of a `job_hash`: exactly 64 lowercase hex digits.
/// Upper case is refused rather than folded, so one action has one spelling and hashes
/// compare as strings everywhere (the log, the job view, a verifier's `grep`).
pub fn is_job_hash(text: &str) -> bool {
    text.len() == JOB_HASH_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_is_of_the_canonical_bytes_so_member_order_does_not_matter() {
        let a = json!({"amount_cents": 90000, "customer": "C-1042"});
        let b: Value =
            serde_json::from_str(r#"{"customer":"C-1042","amount_cents":90000}"#).expect("JSON");
        assert_eq!(job_hash_of(&a), job_hash_of(&b));
        assert_ne!(
            job_hash_of(&a),
            job_hash_of(&json!({"amount_cents": 45000, "customer": "C-1042"}))
        );
        // sha256 of the 2 bytes `{}`.
        assert_eq!(
            job_hash_of(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(is_job_hash(&job_hash_of(&a)));
    }

    #[test]
    fn only_64_lowercase_hex_digits_are_a_job_hash() {
        let good = "a".repeat(64);
        assert!(is_job_hash(&good));
        assert!(!is_job_hash(&"A".repeat(64)));
        assert!(!is_job_hash(&"a".repeat(63)));
        assert!(!is_job_hash(&"a".repeat(65)));
        assert!(!is_job_hash(&format!("{}g", "a".repeat(63))));
        assert!(!is_job_hash(""));
    }
}
