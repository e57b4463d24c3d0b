//! C2SP signed-note and tlog-checkpoint: published notes and checkpoints verify
//! with their published keys, tampering fails, and our own signing round-trips.

use evident_tlog::{
    open_checkpoint, open_note, verifier_key_name, Checkpoint, Hash, LogSigner, TlogError,
};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

fn go_example() -> Value {
    json(include_str!("../../../testdata/tlog/go_note_example.json"))
}

fn sumdb() -> Value {
    json(include_str!("../../../testdata/tlog/sumdb_checkpoint.json"))
}

fn rekor() -> Value {
    json(include_str!(
        "../../../testdata/tlog/rekor_log2025-1_entry_412114.json"
    ))
}

fn field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().expect(key)
}

#[test]
fn go_note_example_verifies_and_signing_reproduces_it() {
    let v = go_example();
    let note = field(&v, "signed_note");
    let key = field(&v, "verifier_key");
    assert_eq!(
        open_note(note.as_bytes(), key).as_deref(),
        Ok(field(&v, "text"))
    );

    // Ed25519 is deterministic: the signer key reproduces the note byte for byte.
    let signer = LogSigner::new(field(&v, "signer_key")).expect("signer");
    assert_eq!(signer.verifier_key(), key);
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.sign_note(field(&v, "text")).as_deref(), Ok(note));
    assert_eq!(verifier_key_name(key).as_deref(), Ok("PeterNeumann"));
}

#[test]
fn tampered_notes_fail() {
    let v = go_example();
    let note = field(&v, "signed_note");
    let key = field(&v, "verifier_key");
    let text_changed = note.replace("cryptography", "cryptographY");
    assert_eq!(
        open_note(text_changed.as_bytes(), key),
        Err(TlogError::BadSignature)
    );
    let sig_changed = note.replace("x08go/ZJ", "x08go/ZK");
    assert_eq!(
        open_note(sig_changed.as_bytes(), key),
        Err(TlogError::BadSignature)
    );
    // Every single-byte change of the note is rejected one way or another.
    for i in 0..note.len() {
        let mut bytes = note.as_bytes().to_vec();
        bytes[i] ^= 0x01;
        assert!(
            open_note(&bytes, key).is_err(),
            "byte {i} flipped still verifies"
        );
    }
    // Format errors.
    assert_eq!(
        open_note(b"no signatures\n", key),
        Err(TlogError::MalformedNote)
    );
    assert_eq!(
        open_note(field(&v, "text").as_bytes(), key),
        Err(TlogError::MalformedNote)
    );
    assert!(open_note(note.as_bytes(), "PeterNeumann+c74f20a3+garbage").is_err());
}

#[test]
fn a_note_needs_a_signature_by_the_trusted_key() {
    let v = go_example();
    let (_, other_key) = LogSigner::generate("PeterNeumann").expect("generate");
    // Same name, different key ID: the signature is unknown, so nothing verifies.
    assert_eq!(
        open_note(field(&v, "signed_note").as_bytes(), &other_key),
        Err(TlogError::BadSignature)
    );
}

#[test]
fn go_sum_database_checkpoint_verifies_with_its_published_key() {
    let v = sumdb();
    let note = field(&v, "signed_note");
    let key = field(&v, "verifier_key");
    let body = open_note(note.as_bytes(), key).expect("verifies");
    let checkpoint = Checkpoint::parse(body.as_bytes()).expect("checkpoint");
    assert_eq!(checkpoint.origin, field(&v, "origin"));
    assert_eq!(checkpoint.size, v["size"].as_u64().expect("size"));
    assert_eq!(
        checkpoint.root,
        Hash::from_base64(field(&v, "root")).expect("root")
    );
    assert_eq!(checkpoint.to_body(), body);
    // Evident requires origin == key name; sumdb predates that convention.
    assert_eq!(
        open_checkpoint(note.as_bytes(), key),
        Err(TlogError::OriginMismatch {
            origin: "go.sum database tree".into(),
            key_name: "sum.golang.org".into(),
        })
    );
    let tampered = note.replace("6476701", "6476702");
    assert_eq!(
        open_note(tampered.as_bytes(), key),
        Err(TlogError::BadSignature)
    );
}

#[test]
fn rekor_checkpoint_verifies_with_its_published_key() {
    let v = rekor();
    let note = field(&v, "signed_checkpoint");
    let key = field(&v, "verifier_key");
    let checkpoint = open_checkpoint(note.as_bytes(), key).expect("verifies");
    assert_eq!(checkpoint.origin, "log2025-1.rekor.sigstore.dev");
    assert_eq!(checkpoint.size, 412_115);
    assert_eq!(
        checkpoint.root,
        Hash::from_base64(field(&v, "root")).expect("root")
    );

    // A cosignature by a key we do not know rides along without harm.
    let (witness_key, _) = LogSigner::generate("witness.example").expect("generate");
    let witness = LogSigner::new(&witness_key).expect("signer");
    let body = checkpoint.to_body();
    let cosigned = witness.sign_note(&body).expect("sign");
    let cosignature = cosigned.rsplit_once("\n\n").expect("signature block").1;
    let with_cosignature = format!("{note}{cosignature}");
    assert_eq!(
        open_checkpoint(with_cosignature.as_bytes(), key),
        Ok(checkpoint.clone())
    );

    // Changing the tree size breaks the log's signature.
    let tampered = note.replace("412115", "412116");
    assert_eq!(
        open_checkpoint(tampered.as_bytes(), key),
        Err(TlogError::BadSignature)
    );
    // Another key does not verify it.
    let (_, other) = LogSigner::generate("log2025-1.rekor.sigstore.dev").expect("generate");
    assert_eq!(
        open_checkpoint(note.as_bytes(), &other),
        Err(TlogError::BadSignature)
    );
}

#[test]
fn generated_keys_sign_checkpoints_that_open() {
    let (private_key, verifier_key) = LogSigner::generate("audit.example.com/log").expect("keys");
    assert!(private_key.starts_with("PRIVATE+KEY+audit.example.com/log+"));
    let signer = LogSigner::new(&format!("{private_key}\n")).expect("signer");
    assert_eq!(signer.verifier_key(), verifier_key);
    assert!(!format!("{signer:?}").contains(&private_key["PRIVATE+KEY+".len()..]));

    let checkpoint = Checkpoint {
        origin: "audit.example.com/log".into(),
        size: 0,
        root: evident_tlog::EMPTY_ROOT,
    };
    let note = signer.sign_checkpoint(&checkpoint).expect("sign");
    assert!(note.starts_with(
        "audit.example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— audit.example.com/log "
    ));
    assert_eq!(
        open_checkpoint(note.as_bytes(), &verifier_key),
        Ok(checkpoint.clone())
    );

    let other_origin = Checkpoint {
        origin: "elsewhere".into(),
        ..checkpoint
    };
    assert!(matches!(
        signer.sign_checkpoint(&other_origin),
        Err(TlogError::OriginMismatch { .. })
    ));
    // A note signed by the right key but with another origin is refused too.
    let foreign = signer.sign_note(&other_origin.to_body()).expect("sign");
    assert!(matches!(
        open_checkpoint(foreign.as_bytes(), &verifier_key),
        Err(TlogError::OriginMismatch { .. })
    ));
}

#[test]
fn bad_keys_and_names_are_errors() {
    assert!(LogSigner::generate("has space").is_err());
    assert!(LogSigner::generate("has+plus").is_err());
    assert!(LogSigner::generate("").is_err());
    assert!(LogSigner::new("").is_err());
    assert!(LogSigner::new("PRIVATE+KEY+name+00000000+AAAA").is_err());
    let v = go_example();
    // A verifier key is not a signer key and vice versa.
    assert!(LogSigner::new(field(&v, "verifier_key")).is_err());
    assert!(verifier_key_name(field(&v, "signer_key")).is_err());
    // Wrong key ID.
    assert!(verifier_key_name(
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
}

#[test]
fn checkpoint_bodies_follow_tlog_checkpoint() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let good = format!("example.com/log\n10\n{root}\n");
    let parsed = Checkpoint::parse(good.as_bytes()).expect("parse");
    assert_eq!(parsed.size, 10);
    assert_eq!(parsed.to_body(), good);
    // Extension lines are accepted and ignored.
    let extended = format!("example.com/log\n10\n{root}\nextension one\nextension two\n");
    assert_eq!(Checkpoint::parse(extended.as_bytes()), Ok(parsed));

    for bad in [
        format!("\n10\n{root}\n"),
        format!("example.com/log\n010\n{root}\n"),
        format!("example.com/log\n+10\n{root}\n"),
        format!("example.com/log\n-1\n{root}\n"),
        format!("example.com/log\n18446744073709551616\n{root}\n"),
        "example.com/log\n10\nAAAA\n".to_string(),
        "example.com/log\n10\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n".to_string(),
        format!("example.com/log\n10\n{root}"),
        format!("example.com/log\n10\n{root}\n\n"),
        format!("example.com/log\n10\n{root}\next\n\n"),
        "example.com/log\n10\n".to_string(),
        String::new(),
    ] {
        assert!(
            Checkpoint::parse(bad.as_bytes()).is_err(),
            "accepted {bad:?}"
        );
    }
    assert!(Checkpoint::parse(b"o\n1\n\xff\xfe\n").is_err());
}
