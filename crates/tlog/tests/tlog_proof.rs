//! C2SP tlog-proof: a real Rekor v2 entry proven offline, the spec's example, and
//! malformed proofs.

mod common;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{build_tiles, test_leaves};
use evident_tlog::{
    encode_tlog_proof, parse_tlog_proof, prove_inclusion, verify_tlog_proof, Checkpoint, Hash,
    LogSigner, TlogError,
};
use serde_json::Value;

struct Rekor {
    key: String,
    entry: Vec<u8>,
    index: u64,
    hashes: Vec<Hash>,
    checkpoint: String,
}

fn rekor() -> Rekor {
    let v: Value = serde_json::from_str(include_str!(
        "../../../testdata/tlog/rekor_log2025-1_entry_412114.json"
    ))
    .expect("json");
    Rekor {
        key: v["verifier_key"].as_str().expect("key").to_owned(),
        entry: BASE64
            .decode(v["entry_base64"].as_str().expect("entry"))
            .expect("base64"),
        index: v["index"].as_u64().expect("index"),
        hashes: v["hashes"]
            .as_array()
            .expect("hashes")
            .iter()
            .map(|h| Hash::from_base64(h.as_str().expect("hash")).expect("hash"))
            .collect(),
        checkpoint: v["signed_checkpoint"]
            .as_str()
            .expect("checkpoint")
            .to_owned(),
    }
}

#[test]
fn a_real_rekor_entry_is_proven_offline() {
    let r = rekor();
    let text = encode_tlog_proof(r.index, &r.hashes, &r.checkpoint, None);
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 412114\nKIoYVJ0T"));
    let checkpoint = verify_tlog_proof(text.as_bytes(), &r.entry, &r.key).expect("verifies");
    assert_eq!(checkpoint.size, 412_115);
    assert_eq!(checkpoint.origin, "log2025-1.rekor.sigstore.dev");

    // Another entry, another index, a changed hash or checkpoint: all fail.
    assert_eq!(
        verify_tlog_proof(text.as_bytes(), b"another entry", &r.key),
        Err(TlogError::InvalidProof)
    );
    let wrong_index = encode_tlog_proof(r.index - 1, &r.hashes, &r.checkpoint, None);
    assert!(verify_tlog_proof(wrong_index.as_bytes(), &r.entry, &r.key).is_err());
    let mut hashes = r.hashes.clone();
    hashes[3].0[7] ^= 1;
    let wrong_hash = encode_tlog_proof(r.index, &hashes, &r.checkpoint, None);
    assert!(verify_tlog_proof(wrong_hash.as_bytes(), &r.entry, &r.key).is_err());
    let wrong_checkpoint = text.replace("\n412115\n", "\n412116\n");
    assert_eq!(
        verify_tlog_proof(wrong_checkpoint.as_bytes(), &r.entry, &r.key),
        Err(TlogError::BadSignature)
    );
}

#[test]
fn extra_data_round_trips_and_is_not_authenticated() {
    let r = rekor();
    let text = encode_tlog_proof(r.index, &r.hashes, &r.checkpoint, Some(b"context"));
    let parsed = parse_tlog_proof(text.as_bytes()).expect("parse");
    assert_eq!(parsed.extra.as_deref(), Some(&b"context"[..]));
    assert_eq!(parsed.index, r.index);
    assert_eq!(parsed.hashes, r.hashes);
    assert_eq!(parsed.checkpoint, r.checkpoint);
    assert!(verify_tlog_proof(text.as_bytes(), &r.entry, &r.key).is_ok());
    let empty_extra = encode_tlog_proof(r.index, &r.hashes, &r.checkpoint, Some(b""));
    assert_eq!(
        parse_tlog_proof(empty_extra.as_bytes())
            .expect("parse")
            .extra,
        Some(Vec::new())
    );
}

#[test]
fn the_spec_example_parses() {
    // The example of c2sp.org/tlog-proof; its signatures are elided ("[...]"), so it
    // parses but cannot verify.
    let example = "c2sp.org/tlog-proof@v1\n\
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
index 73894\n\
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\
\n\
example.com/fancylog\n\
109482\n\
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\
\n\
— example.com/fancylog hI2DJw[...]1roloI=\n\
— witness1.example mJirIklj[...]qY9v2B/5bg==\n";
    let parsed = parse_tlog_proof(example.as_bytes()).expect("parse");
    assert_eq!(parsed.index, 73_894);
    assert_eq!(parsed.hashes.len(), 5);
    assert!(parsed.extra.is_some());
    assert!(parsed
        .checkpoint
        .starts_with("example.com/fancylog\n109482\n"));
    let (_, key) = LogSigner::generate("example.com/fancylog").expect("key");
    assert_eq!(
        verify_tlog_proof(example.as_bytes(), b"entry", &key),
        Err(TlogError::MalformedNote)
    );
}

#[test]
fn malformed_proofs_are_rejected() {
    let checkpoint = "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— o AAAAAAA=\n";
    let hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let cases = [
        "wrong-header\nindex 0\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\n\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nindex notanumber\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nindex -5\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nindex 05\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\ncheckpoint\n".to_string(),
        "c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\ncheckpoint\n".to_string(),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n\ncheckpoint\n",
            BASE64.encode([0u8; 64])
        ),
        format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\n"),
        format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\n\n"),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{checkpoint}",
            format!("{hash}\n").repeat(65)
        ),
        "c2sp.org/tlog-proof@v1".to_string(),
        String::new(),
    ];
    for case in &cases {
        assert!(
            matches!(
                parse_tlog_proof(case.as_bytes()),
                Err(TlogError::MalformedTlogProof(_))
            ),
            "accepted {case:?}"
        );
    }
    assert!(parse_tlog_proof(b"c2sp.org/tlog-proof@v1\nindex 0\n\n\xff\n").is_err());
}

#[test]
fn our_own_log_round_trips() {
    let leaves = test_leaves(1000);
    let (tiles, root) = build_tiles(&leaves, &[600, 400]);
    let (private_key, verifier_key) = LogSigner::generate("evident.example/log").expect("keys");
    let signer = LogSigner::new(&private_key).expect("signer");
    let checkpoint = Checkpoint {
        origin: "evident.example/log".into(),
        size: 1000,
        root,
    };
    let note = signer.sign_checkpoint(&checkpoint).expect("sign");
    for seq in [0u64, 1, 255, 256, 511, 999] {
        let proof = prove_inclusion(seq, 1000, &tiles).expect("prove");
        let text = encode_tlog_proof(seq, &proof, &note, None);
        let entry = format!("leaf {seq}");
        assert_eq!(
            verify_tlog_proof(text.as_bytes(), entry.as_bytes(), &verifier_key),
            Ok(checkpoint.clone())
        );
        let out_of_range = encode_tlog_proof(1000, &proof, &note, None);
        assert!(
            verify_tlog_proof(out_of_range.as_bytes(), entry.as_bytes(), &verifier_key).is_err()
        );
    }
}

#[test]
fn mutated_proofs_never_panic_and_never_verify() {
    use rand::{Rng, SeedableRng};
    let r = rekor();
    let text = encode_tlog_proof(r.index, &r.hashes, &r.checkpoint, Some(b"x"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for _ in 0..1000 {
        let mut bytes = text.as_bytes().to_vec();
        match rng.gen_range(0..3) {
            0 => {
                let i = rng.gen_range(0..bytes.len());
                bytes[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => bytes.truncate(rng.gen_range(0..bytes.len())),
            _ => {
                let i = rng.gen_range(0..bytes.len());
                bytes.insert(i, rng.gen());
            }
        }
        if bytes == text.as_bytes() {
            continue;
        }
        // The extra line is not authenticated; a change there may still verify.
        let extra_line = text.find("extra ").expect("extra")..text.find("index").expect("index");
        let touched_extra_only = bytes.len() == text.len()
            && bytes
                .iter()
                .zip(text.as_bytes())
                .enumerate()
                .all(|(i, (a, b))| a == b || extra_line.contains(&i));
        let result = verify_tlog_proof(&bytes, &r.entry, &r.key);
        if !touched_extra_only {
            assert!(
                result.is_err(),
                "mutated proof verified: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
