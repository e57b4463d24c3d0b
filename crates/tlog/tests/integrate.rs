//! Integration against the naive RFC 6962 definition: random batch splits, tile
//! boundaries, stored tile contents, the tiles proofs need, and retries over tiles
//! wider than the tree.

mod common;

use std::collections::BTreeMap;

use common::{
    build_tiles, naive_consistency, naive_path, naive_root, roots_at, roots_at_every_size,
    test_leaves,
};
use evident_tlog::{
    integrate, prove_consistency, prove_inclusion, right_edge_tiles, tile_width,
    tiles_for_consistency, tiles_for_inclusion, tiles_for_root, tree_root, verify_consistency,
    verify_inclusion, Hash, TileId, TileMap, TlogError, EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE,
};
use rand::{Rng, SeedableRng};

/// Checks every stored tile against its definition for `size` (C2SP tlog-tiles:
/// tile (L, N) lists MTH(D[(256N + i)·256^L : (256N + i + 1)·256^L])).
fn assert_tiles_match_definition(tiles: &TileMap, leaves: &[Hash]) {
    let size = leaves.len() as u64;
    for (&tile, data) in tiles {
        let width = usize::from(tile_width(tile, size));
        assert_eq!(
            data.len(),
            width * HASH_SIZE,
            "width of tile {tile} at size {size}"
        );
        let span = 256usize.pow(u32::from(tile.level));
        for i in 0..width {
            let start = (tile.index as usize * 256 + i) * span;
            let expected = naive_root(&leaves[start..start + span]);
            assert_eq!(&data[i * HASH_SIZE..(i + 1) * HASH_SIZE], &expected.0[..]);
        }
    }
}

#[test]
fn random_batches_match_the_naive_root_and_tile_definitions() {
    let leaves = test_leaves(2100);
    let roots = roots_at_every_size(&leaves);
    for size in [0, 1, 2, 3, 255, 256, 257, 511, 512, 1000, 2100] {
        assert_eq!(
            roots[size],
            naive_root(&leaves[..size]),
            "reference root at {size}"
        );
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(6962);
    for round in 0..4 {
        let mut tiles = TileMap::new();
        let mut size = 0usize;
        while size < leaves.len() {
            let max_batch = [3, 17, 300, 1000][round];
            let batch = rng.gen_range(0..=max_batch).min(leaves.len() - size);
            // The store hands integrate only the right-edge tiles.
            let edge: BTreeMap<TileId, Vec<u8>> = right_edge_tiles(size as u64)
                .into_iter()
                .map(|id| (id, tiles[&id].clone()))
                .collect();
            let step =
                integrate(size as u64, &edge, &leaves[size..size + batch]).expect("integrate");
            size += batch;
            assert_eq!(step.tree_size, size as u64);
            assert_eq!(step.root, roots[size], "root at size {size}");
            tiles.extend(step.tiles);
            assert_eq!(tree_root(size as u64, &tiles), Ok(step.root));
        }
        assert_tiles_match_definition(&tiles, &leaves);
    }
}

#[test]
fn tile_boundaries_match_the_naive_root() {
    let leaves = test_leaves(65_540);
    let boundaries = [
        255usize, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537, 65_540,
    ];
    let roots = roots_at(&leaves, &boundaries);
    assert_eq!(roots[7], naive_root(&leaves[..65_536]));
    let mut tiles = TileMap::new();
    let mut size = 0usize;
    for (&target, &root) in boundaries.iter().zip(&roots) {
        let step = integrate(size as u64, &tiles, &leaves[size..target]).expect("integrate");
        tiles.extend(step.tiles);
        size = target;
        assert_eq!(step.root, root, "root at size {size}");
    }
    // And crossing 65,536 in one leaf-at-a-time stretch.
    let (tiles_one_by_one, root) =
        build_tiles(&leaves[..65_540], &[&[65_530][..], &[1; 10][..]].concat());
    assert_eq!(root, roots[9]);
    for (&size, &root) in boundaries.iter().zip(&roots) {
        assert_eq!(tree_root(size as u64, &tiles_one_by_one), Ok(root));
    }
}

#[test]
fn a_large_batch_integrates_in_one_call() {
    let leaves = test_leaves(100_000);
    let step = integrate(0, &TileMap::new(), &leaves).expect("integrate");
    assert_eq!(step.tree_size, 100_000);
    assert_eq!(step.root, roots_at(&leaves, &[100_000])[0]);
    // 390 full + 1 partial level-0 tiles, 1 full + 1 partial level-1 tile, 1 level-2.
    assert_eq!(step.tiles.len(), 391 + 2 + 1);
    let step2 = integrate(
        100_000,
        &step.tiles.into_iter().collect::<TileMap>(),
        &leaves[..5],
    )
    .expect("integrate");
    assert_eq!(step2.tree_size, 100_005);
}

#[test]
fn proofs_for_all_pairs_verify_on_small_trees() {
    let leaves = test_leaves(70);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9162);
    let mut batches = Vec::new();
    let mut covered = 0;
    while covered < leaves.len() {
        let batch = rng.gen_range(1..=9).min(leaves.len() - covered);
        batches.push(batch);
        covered += batch;
    }
    let (tiles, _) = build_tiles(&leaves, &batches);
    let roots: Vec<Hash> = (0..=leaves.len())
        .map(|n| naive_root(&leaves[..n]))
        .collect();
    for size in 1..=leaves.len() {
        for seq in 0..size {
            let proof = prove_inclusion(seq as u64, size as u64, &tiles).expect("prove");
            assert_eq!(proof, naive_path(seq, &leaves[..size]));
            verify_inclusion(seq as u64, size as u64, leaves[seq], roots[size], &proof)
                .expect("verify");
        }
        for from in 0..=size {
            let proof = prove_consistency(from as u64, size as u64, &tiles).expect("prove");
            if from > 0 {
                assert_eq!(proof, naive_consistency(from, &leaves[..size]));
            }
            verify_consistency(from as u64, size as u64, roots[from], roots[size], &proof)
                .expect("verify");
        }
    }
}

/// Keeps only the named tiles, each cut to its width at `size`, as a store that
/// had stopped at `size` would hold them.
fn tiles_at_size(tiles: &TileMap, ids: &[TileId], size: u64) -> TileMap {
    ids.iter()
        .map(|&id| {
            let width = usize::from(tile_width(id, size));
            (id, tiles[&id][..width * HASH_SIZE].to_vec())
        })
        .collect()
}

#[test]
fn the_tiles_named_for_a_proof_suffice_at_their_width() {
    let leaves = test_leaves(1300);
    let (tiles, _) = build_tiles(&leaves, &[300, 700, 300]);
    let sizes = [1u64, 2, 255, 256, 257, 300, 511, 512, 513, 1000, 1024, 1300];
    for &size in &sizes {
        let root = naive_root(&leaves[..size as usize]);
        let needed = tiles_for_root(size);
        assert_eq!(needed, right_edge_tiles(size), "root tiles at {size}");
        assert_eq!(
            tree_root(size, &tiles_at_size(&tiles, &needed, size)),
            Ok(root)
        );
        for seq in [0, size / 3, size - 1] {
            let needed = tiles_for_inclusion(seq, size);
            let proof = prove_inclusion(seq, size, &tiles_at_size(&tiles, &needed, size))
                .expect("proof from the named tiles");
            verify_inclusion(seq, size, leaves[seq as usize], root, &proof).expect("verify");
        }
        for &from in &sizes {
            if from > size {
                continue;
            }
            let needed = tiles_for_consistency(from, size);
            let proof = prove_consistency(from, size, &tiles_at_size(&tiles, &needed, size))
                .expect("proof from the named tiles");
            let old_root = naive_root(&leaves[..from as usize]);
            verify_consistency(from, size, old_root, root, &proof).expect("verify");
        }
    }
    assert!(tiles_for_inclusion(5, 5).is_empty());
    assert!(tiles_for_consistency(6, 5).is_empty());
    assert!(tiles_for_consistency(5, 5).is_empty());
    assert!(tiles_for_root(0).is_empty());
}

#[test]
fn a_retry_over_tiles_written_for_a_lost_append_gives_the_same_tree() {
    // Append 400 leaves, then "lose" a second append of 200 whose tiles were
    // persisted but whose tree head was not; a different batch is then appended
    // from size 400 over those wider tiles.
    let leaves = test_leaves(400);
    let (mut tiles, _) = build_tiles(&leaves, &[400]);
    let lost: Vec<Hash> = (0..200)
        .map(|i| evident_tlog::leaf_hash(&[i as u8, 0xff]))
        .collect();
    let lost_step = integrate(400, &tiles, &lost).expect("integrate");
    tiles.extend(lost_step.tiles);

    let retry = test_leaves(450)[400..].to_vec();
    let step = integrate(400, &tiles, &retry).expect("integrate over wider tiles");
    let all = [&leaves[..], &retry[..]].concat();
    assert_eq!(step.root, naive_root(&all));
    tiles.extend(step.tiles);
    assert_eq!(tree_root(450, &tiles), Ok(naive_root(&all)));
}

#[test]
fn an_empty_batch_returns_the_current_root() {
    let leaves = test_leaves(300);
    let (tiles, root) = build_tiles(&leaves, &[300]);
    let step = integrate(300, &tiles, &[]).expect("integrate");
    assert_eq!(
        (step.tree_size, step.root, step.tiles.len()),
        (300, root, 0)
    );
    let empty = integrate(0, &TileMap::new(), &[]).expect("integrate");
    assert_eq!((empty.tree_size, empty.root), (0, EMPTY_ROOT));
}

#[test]
fn missing_or_short_edge_tiles_are_errors() {
    let leaves = test_leaves(300);
    let (mut tiles, _) = build_tiles(&leaves, &[300]);
    let partial = TileId { level: 0, index: 1 };
    let data = tiles.remove(&partial).expect("partial tile");
    assert_eq!(
        integrate(300, &tiles, &leaves[..1]),
        Err(TlogError::MissingTile(partial))
    );
    tiles.insert(partial, data[..32].to_vec());
    assert!(matches!(
        integrate(300, &tiles, &leaves[..1]),
        Err(TlogError::ShortTile { tile, .. }) if tile == partial
    ));
    assert!(matches!(
        prove_inclusion(299, 300, &tiles),
        Err(TlogError::ShortTile { .. })
    ));
    assert_eq!(
        integrate(MAX_TREE_SIZE, &tiles, &leaves[..1]),
        Err(TlogError::TreeTooLarge)
    );
    assert_eq!(
        integrate(u64::MAX, &tiles, &leaves[..1]),
        Err(TlogError::TreeTooLarge)
    );
}

#[test]
fn c2sp_tree_of_70000_has_the_documented_tiles() {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../../testdata/tlog/tile_paths.json")).expect("json");
    let example = &json["tree_70000"];
    let size = example["tree_size"].as_u64().expect("size");
    let edge: Vec<(TileId, u16)> = example["right_edge"]
        .as_array()
        .expect("edge")
        .iter()
        .map(|t| {
            let id = TileId {
                level: t["level"].as_u64().expect("level") as u8,
                index: t["index"].as_u64().expect("index"),
            };
            (id, t["width"].as_u64().expect("width") as u16)
        })
        .collect();
    let edge_ids: Vec<TileId> = edge.iter().map(|(id, _)| *id).collect();
    assert_eq!(right_edge_tiles(size), edge_ids);
    for (id, width) in edge {
        assert_eq!(tile_width(id, size), width, "width of {id}");
    }
    for t in example["full_tiles"].as_array().expect("full") {
        let id = TileId {
            level: t["level"].as_u64().expect("level") as u8,
            index: t["index"].as_u64().expect("index"),
        };
        assert_eq!(tile_width(id, size), 256, "{id} is full");
    }
    assert_eq!(
        tile_width(
            TileId {
                level: 0,
                index: 274
            },
            size
        ),
        0
    );
    assert_eq!(tile_width(TileId { level: 3, index: 0 }, size), 0);
    assert_eq!(
        tile_width(
            TileId {
                level: 200,
                index: u64::MAX
            },
            size
        ),
        0
    );
    // "a tree of size 256 will be represented by a full level 0 tile and a partial
    // level 1 tile of width 1."
    assert_eq!(right_edge_tiles(256), vec![TileId { level: 1, index: 0 }]);
    assert_eq!(tile_width(TileId { level: 1, index: 0 }, 256), 1);
    assert!(right_edge_tiles(0).is_empty());
}
