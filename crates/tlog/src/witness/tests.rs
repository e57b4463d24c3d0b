use super::*;
use crate::{integrate, leaf_hash, prove_consistency, LogSigner, TileMap};

const ORIGIN: &str = "example.com/log";

/// A log of `n` entries named by `tag`: its tiles, and the signer.
fn log_of(n: usize, tag: &str) -> (TileMap, u64, Hash) {
    let leaves: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(format!("{tag}{i}").as_bytes()))
        .collect();
    let step = integrate(0, &TileMap::new(), &leaves).unwrap();
    (step.tiles.into_iter().collect(), step.tree_size, step.root)
}

fn signed(signer: &LogSigner, size: u64, root: Hash) -> String {
    signer
        .sign_checkpoint(&Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
        })
        .unwrap()
}

fn with_cosignature(note: &str, witness: &CosignatureSigner, time: u64) -> String {
    let (text, _) = split_note(note).unwrap();
    format!("{note}{}", witness.cosign(text, time).unwrap())
}

#[test]
fn key_id_and_vkey_follow_tlog_cosignature() {
    let (private, vkey) = CosignatureSigner::generate("witness.example/w1").unwrap();
    let signer = CosignatureSigner::new(&private).unwrap();
    assert_eq!(signer.verifier_key(), vkey);
    let verifier = CosignatureVerifier::new(&vkey).unwrap();
    // SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4], computed here independently.
    let public = signer.key.verifying_key();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, b"witness.example/w1\n\x04");
    sha2::Digest::update(&mut hasher, public.as_bytes());
    let digest = sha2::Digest::finalize(hasher);
    let expected = u32::from_be_bytes(digest[..4].try_into().unwrap());
    assert_eq!(verifier.key_id, expected);
    assert!(vkey.starts_with(&format!("witness.example/w1+{expected:08x}+B")));
    // A log key (type 0x01) is not a cosigner key, nor the other way round.
    let (_, log_vkey) = LogSigner::generate(ORIGIN).unwrap();
    assert!(CosignatureVerifier::new(&log_vkey).is_err());
    assert!(crate::verifier_key_name(&vkey).is_err());
    // A key whose ID was altered is refused.
    let mut tampered = vkey.clone();
    tampered.replace_range(19..20, if &vkey[19..20] == "0" { "1" } else { "0" });
    assert!(CosignatureVerifier::new(&tampered).is_err());
}

#[test]
fn cosignature_signs_the_v1_message_with_its_timestamp() {
    let (private, vkey) = CosignatureSigner::generate("w1").unwrap();
    let signer = CosignatureSigner::new(&private).unwrap();
    let verifier = CosignatureVerifier::new(&vkey).unwrap();
    let text = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let line = signer.cosign(text, 1_679_315_147).unwrap();
    assert!(line.starts_with("— w1 ") && line.ends_with('\n'));
    assert_eq!(
        verifier.verify_line(text.as_bytes(), &line),
        Some(1_679_315_147)
    );
    // The signature is over "cosignature/v1\ntime <t>\n" ‖ text, with key ID ‖ u64 BE time first.
    let raw = BASE64
        .decode(line.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    assert_eq!(
        u64::from_be_bytes(raw[4..12].try_into().unwrap()),
        1_679_315_147
    );
    let message = format!("cosignature/v1\ntime 1679315147\n{text}");
    let signature = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
    signer
        .key
        .verifying_key()
        .verify(message.as_bytes(), &signature)
        .unwrap();
    // Another text, or another time, does not verify.
    assert_eq!(
        verifier.verify_line(b"example.com/log\n4\nx\n", &line),
        None
    );
    let mut other_time = raw.clone();
    other_time[11] ^= 1;
    let forged = format!("— w1 {}\n", BASE64.encode(other_time));
    assert_eq!(verifier.verify_line(text.as_bytes(), &forged), None);
}

#[test]
fn add_checkpoint_body_round_trips_and_refuses_malformed() {
    let request = AddCheckpoint {
        old_size: 20_852_014,
        proof: vec![leaf_hash(b"a"), leaf_hash(b"b")],
        checkpoint: "example.com/log\n1\nAAAA\n\n— example.com/log AAAA\n".into(),
    };
    let body = request.to_body();
    assert!(body.starts_with("old 20852014\n"));
    assert_eq!(AddCheckpoint::parse(body.as_bytes()).unwrap(), request);
    let empty = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: request.checkpoint.clone(),
    };
    assert!(empty.to_body().starts_with("old 0\n\nexample.com/log\n"));
    assert_eq!(
        AddCheckpoint::parse(empty.to_body().as_bytes()).unwrap(),
        empty
    );
    for bad in [
        "old 01\n\nx\n",
        "old -1\n\nx\n",
        "new 1\n\nx\n",
        "old 1\nnot base64!\n\nx\n",
        "old 1\n",
        "old  1\n\nx\n",
    ] {
        assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    let too_long = format!(
        "old 1\n{}\nx\n",
        format!("{}\n", leaf_hash(b"a")).repeat(64)
    );
    assert!(AddCheckpoint::parse(too_long.as_bytes()).is_err());
}

#[test]
fn witness_checks_answer_the_c2sp_statuses() {
    let (private, vkey) = LogSigner::generate(ORIGIN).unwrap();
    let log = LogSigner::new(&private).unwrap();
    let keys = vec![vkey];
    let (tiles, size8, root8) = log_of(8, "e");
    let (_, size5, root5) = log_of(5, "e");
    let note8 = signed(&log, size8, root8);
    let request = |old_size: u64, proof: Vec<Hash>, checkpoint: &str| AddCheckpoint {
        old_size,
        proof,
        checkpoint: checkpoint.to_owned(),
    };
    let head5 = Some(WitnessedHead {
        size: size5,
        root: root5,
    });
    let proof = prove_consistency(size5, size8, &tiles).unwrap();

    // First sight, then growth with a valid proof.
    assert_eq!(
        check_add_checkpoint(&request(0, vec![], &note8), &keys, None)
            .unwrap()
            .size,
        8
    );
    let grown = check_add_checkpoint(&request(5, proof.clone(), &note8), &keys, head5).unwrap();
    assert_eq!((grown.size, grown.root), (8, root8));
    // The same checkpoint again is cosigned again.
    let same = Some(WitnessedHead {
        size: 8,
        root: root8,
    });
    assert!(check_add_checkpoint(&request(8, vec![], &note8), &keys, same).is_ok());

    // 404: no key for the origin.
    let refusal = check_add_checkpoint(&request(0, vec![], &note8), &[], None).unwrap_err();
    assert_eq!(refusal.status(), 404);
    // 403: signed by another key of the same name.
    let (other_private, _) = LogSigner::generate(ORIGIN).unwrap();
    let impostor = signed(&LogSigner::new(&other_private).unwrap(), size8, root8);
    let refusal = check_add_checkpoint(&request(0, vec![], &impostor), &keys, None).unwrap_err();
    assert_eq!(refusal.status(), 403);
    // 400: old size above the checkpoint's.
    let refusal = check_add_checkpoint(&request(9, vec![], &note8), &keys, head5).unwrap_err();
    assert_eq!(refusal.status(), 400);
    // 409 with the known size: the client's old size is stale.
    let refusal =
        check_add_checkpoint(&request(3, proof.clone(), &note8), &keys, head5).unwrap_err();
    assert_eq!(refusal, Refusal::Conflict { known_size: 5 });
    // 409: a rollback (smaller than what the witness holds).
    let note5 = signed(&log, size5, root5);
    let refusal = check_add_checkpoint(&request(0, vec![], &note5), &keys, same).unwrap_err();
    assert_eq!(refusal, Refusal::Conflict { known_size: 8 });
    // 409: a fork at the same size.
    let (_, _, forked_root) = log_of(8, "f");
    let fork = signed(&log, 8, forked_root);
    let refusal = check_add_checkpoint(&request(8, vec![], &fork), &keys, same).unwrap_err();
    assert_eq!(refusal, Refusal::Conflict { known_size: 8 });
    // 422: a forked history grown past the witness's size has no valid proof.
    let (forked_tiles, _, forked12) = log_of(12, "f");
    let fork12 = signed(&log, 12, forked12);
    let fork_proof = prove_consistency(8, 12, &forked_tiles).unwrap();
    let refusal = check_add_checkpoint(&request(8, fork_proof, &fork12), &keys, same).unwrap_err();
    assert_eq!(refusal, Refusal::InconsistentProof);
    // 422: a proof on first sight must be empty.
    let refusal = check_add_checkpoint(&request(0, proof, &note8), &keys, None).unwrap_err();
    assert_eq!(refusal.status(), 422);
}

fn policy_with(witnesses: &[(&str, &str)], extra: &str) -> WitnessPolicy {
    let mut text = String::from("# test policy\n");
    for (name, vkey) in witnesses {
        text.push_str(&format!("witness {name} {vkey} http://127.0.0.1:1\n"));
    }
    text.push_str(extra);
    WitnessPolicy::parse(&text).unwrap()
}

#[test]
fn verify_quorum_counts_valid_cosignatures_of_policy_witnesses() {
    let (private, log_vkey) = LogSigner::generate(ORIGIN).unwrap();
    let log = LogSigner::new(&private).unwrap();
    let (_, _, root) = log_of(3, "e");
    let note = signed(&log, 3, root);
    let (p1, v1) = CosignatureSigner::generate("w1.example").unwrap();
    let (p2, v2) = CosignatureSigner::generate("w2.example").unwrap();
    let (p3, _) = CosignatureSigner::generate("stranger.example").unwrap();
    let w1 = CosignatureSigner::new(&p1).unwrap();
    let w2 = CosignatureSigner::new(&p2).unwrap();
    let stranger = CosignatureSigner::new(&p3).unwrap();
    let both = policy_with(&[("a", &v1), ("b", &v2)], "group ab all a b\nquorum ab\n");

    let one = with_cosignature(&note, &w1, 100);
    let error = verify_quorum(&one, &log_vkey, &both).unwrap_err();
    assert_eq!(
        error,
        WitnessError::QuorumNotMet {
            quorum: "ab".into(),
            cosigned: vec!["a".into()]
        }
    );
    let two = with_cosignature(&with_cosignature(&one, &stranger, 5), &w2, 101);
    assert_eq!(verify_quorum(&two, &log_vkey, &both).unwrap(), ["a", "b"]);
    let any = policy_with(&[("a", &v1), ("b", &v2)], "group ab any a b\nquorum ab\n");
    assert_eq!(verify_quorum(&one, &log_vkey, &any).unwrap(), ["a"]);
    let none = policy_with(&[], "quorum none\n");
    assert!(verify_quorum(&note, &log_vkey, &none).unwrap().is_empty());

    // A cosignature line altered by one byte is named.
    let (text, signatures) = split_note(&two).unwrap();
    let last = signatures.lines().last().unwrap();
    let mut raw = BASE64.decode(last.rsplit(' ').next().unwrap()).unwrap();
    raw[20] ^= 1;
    let tampered = two.replace(last, &format!("— w2.example {}", BASE64.encode(raw)));
    assert_eq!(
        verify_quorum(&tampered, &log_vkey, &both).unwrap_err(),
        WitnessError::BadCosignature { name: "b".into() }
    );
    // Cosignatures over another checkpoint do not count.
    let other = text.replace("\n3\n", "\n4\n");
    assert!(matches!(
        verify_quorum(&two.replace(text, &other), &log_vkey, &both),
        Err(WitnessError::Checkpoint(_))
    ));
    // Another log's key, or a policy naming only other logs, fails.
    let (_, other_log) = LogSigner::generate(ORIGIN).unwrap();
    assert!(matches!(
        verify_quorum(&two, &other_log, &both),
        Err(WitnessError::Checkpoint(_))
    ));
    let pinned = policy_with(&[("a", &v1)], &format!("log {other_log}\nquorum a\n"));
    assert!(matches!(
        verify_quorum(&two, &log_vkey, &pinned),
        Err(WitnessError::LogNotInPolicy(_))
    ));
    let ours = policy_with(&[("a", &v1)], &format!("log {log_vkey}\nquorum a\n"));
    assert_eq!(verify_quorum(&two, &log_vkey, &ours).unwrap(), ["a"]);
}

#[test]
fn policy_errors_name_the_line() {
    let (_, v1) = CosignatureSigner::generate("w1").unwrap();
    let (_, log_vkey) = LogSigner::generate(ORIGIN).unwrap();
    let cases = [
        ("quorum a\n", 1),
        (&*format!("witness a {v1}\nwitness b {v1}\nquorum a\n"), 2),
        (&*format!("witness a {log_vkey}\nquorum a\n"), 1),
        (&*format!("witness a {v1}\ngroup g 2 a\nquorum g\n"), 2),
        (&*format!("witness a {v1}\ngroup g 1 a a\nquorum g\n"), 2),
        (&*format!("witness a {v1}\nquorum a\nquorum a\n"), 3),
        (&*format!("witness a {v1}\n"), 1),
        (&*format!("witness a {v1}\nwitness a {v1}x\nquorum a\n"), 2),
        ("log not-a-key\nquorum none\n", 1),
        ("cosigner a b\nquorum none\n", 1),
    ];
    for (text, line) in cases {
        match WitnessPolicy::parse(text) {
            Err(WitnessError::MalformedPolicy { line: got, .. }) => assert_eq!(got, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    let nested = format!("witness a {v1} # comment\n\ngroup g any a\ngroup h all g\nquorum h\n");
    let policy = WitnessPolicy::parse(&nested).unwrap();
    assert_eq!(policy.quorum(), "h");
    assert_eq!(policy.witness_names().collect::<Vec<_>>(), ["a"]);
}

/// What `fuzz/fuzz_targets/witness_parsers.rs` checks, over every one-byte change
/// (and every cut) of a valid body and policy: no panic, and a body that parses
/// re-encodes to the same bytes.
#[test]
fn mutated_inputs_never_panic() {
    let (private, vkey) = LogSigner::generate(ORIGIN).unwrap();
    let log = LogSigner::new(&private).unwrap();
    let (_, _, root) = log_of(3, "e");
    let body = AddCheckpoint {
        old_size: 2,
        proof: vec![leaf_hash(b"a")],
        checkpoint: signed(&log, 3, root),
    }
    .to_body();
    let (_, w) = CosignatureSigner::generate("w1").unwrap();
    let policy = format!("log {vkey}\nwitness a {w}\ngroup g any a\nquorum g\n");
    for valid in [body.into_bytes(), policy.into_bytes()] {
        let mut inputs = Vec::new();
        for at in 0..valid.len() {
            inputs.push(valid[..at].to_vec());
            for byte in [b'\n', b' ', b'0', b'+', 0xff, b'\xE2'] {
                let mut mutated = valid.clone();
                mutated[at] = byte;
                inputs.push(mutated);
            }
        }
        for input in inputs {
            if let Ok(request) = AddCheckpoint::parse(&input) {
                assert_eq!(request.to_body().as_bytes(), &input[..]);
                let _ = checkpoint_origin(&request.checkpoint);
                let _ = check_add_checkpoint(&request, std::slice::from_ref(&vkey), None);
            }
            if let Ok(text) = std::str::from_utf8(&input) {
                let _ = WitnessPolicy::parse(text);
            }
        }
    }
}
