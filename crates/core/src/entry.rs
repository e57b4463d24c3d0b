//! Entry bytes without re-serializing the record in the sequencer.
//!
//! An entry is the RFC 8785 form of the record plus `seq`, `trace_prev` and
//! `subject_prev`, which are only known while sequencing, inside the single writer.
//! RFC 8785 (section 3.2.3) writes an object's members sorted by the UTF-16 code
//! units of their names, so the record's members can be serialized once, before
//! sequencing, and the three position members merged in at their sorted places: the
//! writer then only copies bytes. `entry_bytes` in `record.rs` is the reference this
//! must equal (tested below).

use serde_json::{Map, Value};

use crate::json::canonical_bytes;

/// A record's top-level members in RFC 8785 order, each serialized as `"name":value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalMembers(Vec<(String, Vec<u8>)>);

fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn member(name: &str, value: &Value) -> Vec<u8> {
    let mut out = canonical_bytes(&Value::String(name.to_owned()));
    out.push(b':');
    out.extend_from_slice(&canonical_bytes(value));
    out
}

impl CanonicalMembers {
    /// Serializes every member of `record` once.
    pub fn of(record: &Map<String, Value>) -> Self {
        let mut members: Vec<(String, Vec<u8>)> = record
            .iter()
            .map(|(k, v)| (k.clone(), member(k, v)))
            .collect();
        members.sort_by(|a, b| utf16_order(&a.0, &b.0));
        Self(members)
    }

    /// The size of the object these members make, in bytes.
    pub fn object_len(&self) -> usize {
        2 + self.0.iter().map(|(_, m)| m.len()).sum::<usize>() + self.0.len().saturating_sub(1)
    }

    /// The entry bytes: these members plus `seq`, `trace_prev`, `subject_prev`.
    pub fn with_position(
        &self,
        seq: u64,
        trace_prev: Option<u64>,
        subject_prev: Option<u64>,
    ) -> Vec<u8> {
        let number = |n: Option<u64>| n.map_or(Value::Null, Value::from);
        let mut extra = [
            ("seq", member("seq", &Value::from(seq))),
            (
                "subject_prev",
                member("subject_prev", &number(subject_prev)),
            ),
            ("trace_prev", member("trace_prev", &number(trace_prev))),
        ];
        extra.sort_by(|a, b| utf16_order(a.0, b.0));
        let mut out = Vec::with_capacity(self.object_len() + 80);
        out.push(b'{');
        let mut first = true;
        let mut push = |bytes: &[u8], out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(bytes);
        };
        let mut pending = extra.iter().peekable();
        for (name, bytes) in &self.0 {
            if extra.iter().any(|(e, _)| e == name) {
                continue; // the position members always come from the sequencer
            }
            while let Some((e, b)) = pending.peek() {
                if utf16_order(e, name) == std::cmp::Ordering::Less {
                    push(b, &mut out);
                    pending.next();
                } else {
                    break;
                }
            }
            push(bytes, &mut out);
        }
        for (_, b) in pending {
            push(b, &mut out);
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equals_serializing_the_whole_record() {
        for record in [
            json!({}),
            json!({"a": 1}),
            json!({"event_id": "e", "trace_id": "t", "schema": "evident/1", "actor": {"id": "x", "type": "agent"},
                   "received_at": "2026", "sequence": [1, 2], "sa": true, "su": null, "tr": "x", "z": 1.5}),
            json!({"\u{20ac}": 1, "\u{1f600}": 2, "\r": 3, "ö": 4, "se": 5, "seq_x": 6, "trace": 7, "u": 8}),
        ] {
            let map = record.as_object().unwrap();
            let members = CanonicalMembers::of(map);
            assert_eq!(members.object_len(), canonical_bytes(&record).len());
            for (seq, tp, sp) in [
                (0, None, None),
                (7, Some(3), None),
                (u64::from(u32::MAX), Some(1), Some(2)),
            ] {
                assert_eq!(
                    String::from_utf8(members.with_position(seq, tp, sp)).unwrap(),
                    String::from_utf8(crate::record::entry_bytes(map, seq, tp, sp)).unwrap()
                );
            }
        }
    }
}
