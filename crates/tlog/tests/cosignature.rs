//! C2SP tlog-cosignature (Ed25519, `cosignature/v1`) against a known answer computed
//! outside Evident (pyca/cryptography on OpenSSL, `testdata/tlog/cosignature_v1.json`):
//! the key encodings, the signed message and the signature line, byte for byte.

use evident_tlog::witness::{CosignatureSigner, CosignatureVerifier};
use serde_json::Value;

fn vector() -> Value {
    serde_json::from_str(include_str!("../../../testdata/tlog/cosignature_v1.json")).unwrap()
}

#[test]
fn signing_reproduces_the_independent_cosignature() {
    let v = vector();
    let signer = CosignatureSigner::new(v["private_key"].as_str().unwrap()).unwrap();
    assert_eq!(signer.name(), v["name"]);
    assert_eq!(signer.verifier_key(), v["verifier_key"]);
    let line = signer
        .cosign(
            v["note_text"].as_str().unwrap(),
            v["timestamp"].as_u64().unwrap(),
        )
        .unwrap();
    assert_eq!(
        line,
        format!("{}\n", v["cosignature_line"].as_str().unwrap())
    );
}

#[test]
fn the_independent_cosignature_verifies_and_nothing_else_does() {
    let v = vector();
    let verifier = CosignatureVerifier::new(v["verifier_key"].as_str().unwrap()).unwrap();
    let text = v["note_text"].as_str().unwrap();
    let line = v["cosignature_line"].as_str().unwrap();
    assert_eq!(
        verifier.verify_line(text.as_bytes(), line),
        Some(v["timestamp"].as_u64().unwrap())
    );
    let other = text.replace("20852163", "20852164");
    assert_eq!(verifier.verify_line(other.as_bytes(), line), None);
}
