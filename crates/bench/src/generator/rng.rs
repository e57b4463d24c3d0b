//! The generator's own PRNG: xoshiro256** seeded through SplitMix64. Fixed forever so
//! that a seed names the same workload in every version of Evident (the `rand`
//! crate's generators and sampling may change between its versions).

#[derive(Debug, Clone)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut splitmix = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self {
            s: [splitmix(), splitmix(), splitmix(), splitmix()],
        }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-40 for our `n`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * (n as u128);
        usize::try_from(wide >> 64).unwrap_or(0)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        // 53 random bits: exactly representable.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A heavy-tailed positive factor with mean ~1 (median ~0.8, 1 in 16 above 2.2),
    /// standing in for a log-normal without `exp`.
    pub(super) fn spread(&mut self) -> f64 {
        const FACTORS: [f64; 16] = [
            0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.95, 1.05, 1.2, 1.35, 1.6, 1.9, 2.6,
        ];
        FACTORS[self.below(FACTORS.len())] * (0.85 + 0.3 * self.unit())
    }

    /// `mean` bytes, spread.
    pub(super) fn size(&mut self, mean: usize) -> usize {
        ((mean as f64) * self.spread()) as usize
    }

    pub(super) fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            let word = self.next_u64();
            for i in 0..16 {
                if out.len() == digits {
                    break;
                }
                let nibble = (word >> (60 - 4 * i)) & 0xf;
                out.push(char::from(b"0123456789abcdef"[nibble as usize]));
            }
        }
        out
    }

    /// A ULID: 48 bits of time, 80 random bits, Crockford base32.
    pub(super) fn ulid(&mut self, unix_ms: i64) -> String {
        const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let random = u128::from(self.next_u64()) << 16 | u128::from(self.next_u64() >> 48);
        let value = (u128::from(u64::try_from(unix_ms).unwrap_or(0)) << 80) | random;
        (0..26)
            .rev()
            .map(|i| char::from(CROCKFORD[((value >> (5 * i)) & 31) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_prng_is_pinned() {
        // xoshiro256** seeded by SplitMix64(0); changing it would change every workload.
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0x99ec_5f36_cb75_f2b4);
    }
}
