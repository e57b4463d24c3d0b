//! C2SP tlog-tiles entry bundles: round trips, limits, hostile input.

use evident_tlog::{decode_entry_bundle, encode_entry_bundle, TlogError, MAX_ENTRY_SIZE};
use rand::{Rng, SeedableRng};

#[test]
fn bundles_round_trip() {
    let entries: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; i * 3]).collect();
    let bundle = encode_entry_bundle(&entries).expect("encode");
    assert_eq!(
        bundle.len(),
        entries.iter().map(|e| 2 + e.len()).sum::<usize>()
    );
    let decoded = decode_entry_bundle(&bundle).expect("decode");
    assert_eq!(
        decoded,
        entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );

    let small: [&[u8]; 3] = [b"", b"a", b"hello"];
    let bundle = encode_entry_bundle(&small).expect("encode");
    assert_eq!(bundle, b"\x00\x00\x00\x01a\x00\x05hello");
    assert_eq!(decode_entry_bundle(&bundle).expect("decode"), small);
}

#[test]
fn entry_size_limit_is_65535_bytes() {
    let largest = vec![7u8; MAX_ENTRY_SIZE];
    let bundle = encode_entry_bundle(&[&largest]).expect("encode");
    assert_eq!(&bundle[..2], &[0xff, 0xff]);
    assert_eq!(
        decode_entry_bundle(&bundle).expect("decode"),
        vec![&largest[..]]
    );

    let too_large = vec![7u8; MAX_ENTRY_SIZE + 1];
    assert_eq!(
        encode_entry_bundle(&[&too_large]),
        Err(TlogError::EntryTooLarge {
            len: MAX_ENTRY_SIZE + 1
        })
    );
}

#[test]
fn entry_counts_outside_1_to_256_are_rejected() {
    let none: [&[u8]; 0] = [];
    assert!(encode_entry_bundle(&none).is_err());
    assert!(encode_entry_bundle(&vec![b"x"; 257]).is_err());
    assert!(decode_entry_bundle(b"").is_err());
    let too_many = vec![0u8; 2 * 257];
    assert!(decode_entry_bundle(&too_many).is_err());
    assert_eq!(
        decode_entry_bundle(&too_many[..512]).expect("decode").len(),
        256
    );
}

#[test]
fn truncated_bundles_are_rejected() {
    assert!(decode_entry_bundle(b"\x00").is_err());
    assert!(decode_entry_bundle(b"\x00\x05abcd").is_err());
    assert!(decode_entry_bundle(b"\x00\x01a\x00").is_err());
    assert!(decode_entry_bundle(b"\xff\xff").is_err());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(65_535);
    for _ in 0..20_000 {
        let len = rng.gen_range(0..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Bias length prefixes toward small values so some inputs parse.
        if bytes.len() >= 2 && rng.gen_bool(0.5) {
            bytes[0] = 0;
            bytes[1] %= 8;
        }
        if let Ok(entries) = decode_entry_bundle(&bytes) {
            assert_eq!(encode_entry_bundle(&entries).expect("re-encode"), bytes);
        }
    }
}
