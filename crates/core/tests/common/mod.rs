//! Shared by the JSON tests: a deterministic generator of awkward values, with no
//! dependency (xorshift64*).

use serde_json::{Number, Value};

/// A deterministic generator of awkward JSON values: names and strings mixing ASCII,
/// control characters, escapes, noncharacters, BMP characters above U+E000 and
/// supplementary ones (where UTF-8 and UTF-16 orders disagree), numbers across the
/// double range; and mutations of serialized bytes.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "b",
            "Z",
            "0",
            "_",
            "\"",
            "\\",
            "/",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "\n",
            "\t",
            "\u{8}",
            "\u{c}",
            "\r",
            "é",
            "€",
            "\u{e000}",
            "\u{fb33}",
            "\u{ffee}",
            "😀",
            "\u{10000}",
            "\u{1d11e}",
            "日本",
            " ",
            "\u{fdd0}",
            "\u{ffff}",
            "\u{1fffe}",
            "seq",
            "trace_id",
        ];
        let len = self.below(6);
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }

    pub fn number(&mut self) -> Number {
        match self.below(6) {
            0 => Number::from(self.below(1 << 54) as i64 - (1 << 53)),
            1 => Number::from(self.next() >> self.below(64)),
            2 => Number::from(-((self.next() >> self.below(64)) as i64).abs()),
            3 => Number::from_f64(f64::from_bits(self.next())).unwrap_or_else(|| Number::from(0)),
            4 => Number::from_f64(f64::from_bits(self.next()) % 1e16)
                .unwrap_or_else(|| Number::from(0)),
            _ => Number::from_f64((self.below(2_000_001) as f64 - 1e6) / 1e3).unwrap(),
        }
    }

    pub fn value(&mut self, depth: u32) -> Value {
        let kind = if depth > 4 {
            self.below(4)
        } else {
            self.below(6)
        };
        match kind {
            0 => Value::Null,
            1 => Value::Bool(self.below(2) == 0),
            2 => Value::Number(self.number()),
            3 => Value::String(self.text()),
            4 => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.below(7))
                    .map(|_| (self.text(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }

    /// A small edit of `bytes`: the kinds of damage and near misses verify must catch.
    pub fn mutate(&mut self, bytes: &[u8]) -> Vec<u8> {
        const INSERTS: &[&[u8]] = &[
            b" ",
            b"\n",
            b",",
            b":",
            b"\"",
            b"\\",
            b"0",
            b"-",
            b".",
            b"e",
            b"}",
            b"]",
            b"{",
            b"[",
            b"\x00",
            b"\xff",
            b"\xef\xbf\xbf",
            b"u",
            b"1",
        ];
        let mut out = bytes.to_vec();
        let at = self.below(out.len() as u64 + 1) as usize;
        match self.below(5) {
            0 if at < out.len() => out[at] ^= 1 << self.below(8),
            1 if at < out.len() => {
                out.remove(at);
            }
            2 if at + 1 < out.len() => out.swap(at, at + 1),
            3 if at < out.len() => {
                let b = self.below(128) as u8;
                out[at] = b;
            }
            _ => {
                let insert = INSERTS[self.below(INSERTS.len() as u64) as usize];
                out.splice(at..at, insert.iter().copied());
            }
        }
        out
    }
}
