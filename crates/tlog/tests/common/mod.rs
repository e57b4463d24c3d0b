//! Test helpers: a naive, recursive RFC 6962 §2.1 reference implementation to check
//! the tiled one against, and tile-map plumbing.

#![allow(dead_code)]

use evident_tlog::{integrate, leaf_hash, node_hash, Hash, TileMap, EMPTY_ROOT};

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) straight from RFC 6962 §2.1.
pub fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(naive_root(&leaves[..k]), naive_root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) from RFC 6962 §2.1.1.
pub fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = naive_path(m, &leaves[..k]);
        path.push(naive_root(&leaves[k..]));
        path
    } else {
        let mut path = naive_path(m - k, &leaves[k..]);
        path.push(naive_root(&leaves[..k]));
        path
    }
}

/// PROOF(m, D[n]) from RFC 6962 §2.1.2.
pub fn naive_consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![naive_root(leaves)]
            };
        }
        let k = split(n);
        if m <= k {
            let mut proof = subproof(m, &leaves[..k], complete);
            proof.push(naive_root(&leaves[k..]));
            proof
        } else {
            let mut proof = subproof(m - k, &leaves[k..], false);
            proof.push(naive_root(&leaves[..k]));
            proof
        }
    }
    subproof(m, leaves, true)
}

/// Leaf hashes of entries "leaf 0", "leaf 1", ...
pub fn test_leaves(count: usize) -> Vec<Hash> {
    (0..count)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

/// Integrates `leaves` into a fresh tile map in the given batch sizes; returns the
/// map and the final root.
pub fn build_tiles(leaves: &[Hash], batches: &[usize]) -> (TileMap, Hash) {
    let mut tiles = TileMap::new();
    let mut size = 0usize;
    let mut root = EMPTY_ROOT;
    for &batch in batches {
        let step = integrate(size as u64, &tiles, &leaves[size..size + batch]).expect("integrate");
        tiles.extend(step.tiles);
        size += batch;
        root = step.root;
    }
    assert_eq!(size, leaves.len(), "batches must cover the leaves");
    (tiles, root)
}

pub fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The root at every size 0..=n, by the stack-of-perfect-subtrees method (an
/// independent O(n log n) reference, cross-checked against `naive_root`).
pub fn roots_at_every_size(leaves: &[Hash]) -> Vec<Hash> {
    let sizes: Vec<usize> = (0..=leaves.len()).collect();
    roots_at(leaves, &sizes)
}

/// The roots at the given sizes (ascending), by the same stack method.
pub fn roots_at(leaves: &[Hash], sizes: &[usize]) -> Vec<Hash> {
    let fold = |stack: &[(Hash, u32)]| {
        let mut iter = stack.iter().rev();
        match iter.next() {
            None => EMPTY_ROOT,
            Some(&(last, _)) => iter.fold(last, |acc, &(left, _)| node_hash(left, acc)),
        }
    };
    let mut stack: Vec<(Hash, u32)> = Vec::new();
    let mut roots = Vec::with_capacity(sizes.len());
    let mut wanted = sizes.iter().peekable();
    for (count, leaf) in std::iter::once(None)
        .chain(leaves.iter().map(Some))
        .enumerate()
    {
        if let Some(leaf) = leaf {
            stack.push((*leaf, 0));
            while stack.len() >= 2 && stack[stack.len() - 1].1 == stack[stack.len() - 2].1 {
                let (right, height) = stack.pop().expect("two");
                let (left, _) = stack.pop().expect("two");
                stack.push((node_hash(left, right), height + 1));
            }
        }
        while wanted.peek() == Some(&&count) {
            roots.push(fold(&stack));
            wanted.next();
        }
    }
    roots
}
