//! C2SP tlog-tiles paths: the spec's examples, canonical round trips, and
//! rejection of every non-canonical form without panicking.

use evident_tlog::{entries_path, parse_tile_path, tile_path, TilePath};
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../testdata/tlog/tile_paths.json")).expect("json")
}

#[test]
fn spec_examples_parse_and_print() {
    for case in vectors()["valid"].as_array().expect("valid") {
        let path = case["path"].as_str().expect("path");
        let expected = TilePath {
            level: case["level"].as_u64().map(|l| l as u8),
            index: case["index"].as_u64().expect("index"),
            width: case["width"].as_u64().expect("width") as u16,
        };
        assert_eq!(parse_tile_path(path), Ok(expected), "{path}");
        assert_eq!(expected.to_path(), path);
        // Without the leading "tile/" too.
        assert_eq!(
            parse_tile_path(&path["tile/".len()..]),
            Ok(expected),
            "{path}"
        );
        let printed = match expected.level {
            Some(level) => tile_path(level, expected.index, expected.width),
            None => entries_path(expected.index, expected.width),
        };
        assert_eq!(printed, path);
    }
}

#[test]
fn non_canonical_paths_are_rejected() {
    for case in vectors()["invalid"].as_array().expect("invalid") {
        let path = case.as_str().expect("path");
        assert!(parse_tile_path(path).is_err(), "accepted {path:?}");
    }
}

#[test]
fn every_small_index_round_trips() {
    for index in (0..5000).chain([999_999, 1_000_000, 1_234_067, u64::MAX - 1, u64::MAX]) {
        for width in [1u16, 17, 255, 256] {
            for level in [0u8, 1, 63] {
                let path = tile_path(level, index, width);
                let parsed = parse_tile_path(&path).expect(&path);
                assert_eq!(
                    parsed,
                    TilePath {
                        level: Some(level),
                        index,
                        width
                    }
                );
            }
            let path = entries_path(index, width);
            assert_eq!(
                parse_tile_path(&path),
                Ok(TilePath {
                    level: None,
                    index,
                    width
                })
            );
        }
    }
    assert_eq!(tile_path(1, 1_234_067, 8), "tile/1/x001/x234/067.p/8");
    assert_eq!(entries_path(0, 256), "tile/entries/000");
}

#[test]
fn random_garbage_never_panics_and_accepted_paths_are_canonical() {
    let alphabet = b"0123456789x/.ptileentries";
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    for _ in 0..50_000 {
        let len = rng.gen_range(0..40);
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        let text = String::from_utf8(bytes).expect("ascii");
        for candidate in [
            text.clone(),
            format!("tile/{text}"),
            format!("tile/0/{text}"),
        ] {
            if let Ok(parsed) = parse_tile_path(&candidate) {
                let canonical = parsed.to_path();
                assert!(
                    canonical == candidate || canonical == format!("tile/{candidate}"),
                    "{candidate:?} parsed but prints as {canonical:?}"
                );
            }
        }
    }
}
