//! Entry bytes without re-serializing the record in the sequencer.
//!
//! An entry is the RFC 8785 form of the record plus `seq`, `trace_prev` and
//! `subject_prev`, which are only known while sequencing, inside the single writer.
//! RFC 8785 (section 3.2.3) writes an object's members sorted by the UTF-16 code
//! units of their names, so the record can be serialized once, before sequencing,
//! with the three places where the position members fall remembered: the writer then
//! copies four slices and prints three numbers. `entry_bytes` in `record.rs` is the
//! reference this must equal (tested below).

use serde_json::{Map, Value};

use crate::json::jcs::{utf16_order, write_string, write_value};

/// The members the sequencer adds, in RFC 8785 order ("seq" < "subject_prev" <
/// "trace_prev" in UTF-16 code units).
const POSITION_MEMBERS: [&str; 3] = ["seq", "subject_prev", "trace_prev"];

/// A record serialized once (RFC 8785), cut where the position members go.
///
/// `body` is the object's members without braces, comma-joined; `cuts` are the byte
/// offsets in `body` where `seq`, `subject_prev` and `trace_prev` belong. Each of the
/// four segments between cuts is itself a comma-joined run of members (possibly empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalMembers {
    body: Vec<u8>,
    cuts: [usize; 3],
}

impl CanonicalMembers {
    /// Serializes `record` once. Members named like the position members are left
    /// out: the position always comes from the sequencer.
    pub fn of(record: &Map<String, Value>) -> Self {
        let mut members: Vec<(&String, &Value)> = record
            .iter()
            .filter(|(name, _)| !POSITION_MEMBERS.contains(&name.as_str()))
            .collect();
        // Sorted unless the map already iterates in an order RFC 8785 accepts (a
        // `BTreeMap` does; with serde_json's `preserve_order`, see `jcs`, it may not).
        let sorted = members
            .windows(2)
            .all(|pair| pair[0].0.as_bytes() < pair[1].0.as_bytes());
        if !sorted || crate::json::jcs::needs_utf16_sort(members.iter().map(|(n, _)| n.as_str())) {
            members.sort_by(|a, b| utf16_order(a.0, b.0));
        }
        let mut body = Vec::with_capacity(1024);
        let mut cuts = [0; 3];
        let mut next_cut = 0;
        let mut segment_empty = true;
        for (name, value) in members {
            while next_cut < 3 && utf16_order(POSITION_MEMBERS[next_cut], name).is_lt() {
                cuts[next_cut] = body.len();
                next_cut += 1;
                segment_empty = true;
            }
            if !segment_empty {
                body.push(b',');
            }
            segment_empty = false;
            write_string(name, &mut body);
            body.push(b':');
            write_value(value, &mut body);
        }
        for cut in cuts.iter_mut().skip(next_cut) {
            *cut = body.len();
        }
        Self { body, cuts }
    }

    fn segments(&self) -> [&[u8]; 4] {
        let [a, b, c] = self.cuts;
        [
            &self.body[..a],
            &self.body[a..b],
            &self.body[b..c],
            &self.body[c..],
        ]
    }

    /// The size of the object these members make (without the position members).
    pub fn object_len(&self) -> usize {
        let nonempty = self.segments().iter().filter(|s| !s.is_empty()).count();
        2 + self.body.len() + nonempty.saturating_sub(1)
    }

    /// The entry bytes: these members plus `seq`, `trace_prev`, `subject_prev`.
    pub fn with_position(
        &self,
        seq: u64,
        trace_prev: Option<u64>,
        subject_prev: Option<u64>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 80);
        out.push(b'{');
        let [s0, s1, s2, s3] = self.segments();
        let position = |name: &str, n: Option<u64>, out: &mut Vec<u8>| {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            match n {
                Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
                None => out.extend_from_slice(b"null"),
            }
        };
        let segment = |bytes: &[u8], out: &mut Vec<u8>| {
            if !bytes.is_empty() {
                out.extend_from_slice(bytes);
                out.push(b',');
            }
        };
        segment(s0, &mut out);
        position("seq", Some(seq), &mut out);
        out.push(b',');
        segment(s1, &mut out);
        position("subject_prev", subject_prev, &mut out);
        out.push(b',');
        segment(s2, &mut out);
        position("trace_prev", trace_prev, &mut out);
        if !s3.is_empty() {
            out.push(b',');
            out.extend_from_slice(s3);
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::canonical_bytes;
    use serde_json::json;

    #[test]
    fn position_members_are_in_rfc8785_order() {
        let mut sorted = POSITION_MEMBERS;
        sorted.sort_by(|a, b| utf16_order(a, b));
        assert_eq!(sorted, POSITION_MEMBERS);
    }

    #[test]
    fn equals_serializing_the_whole_record() {
        for record in [
            json!({}),
            json!({"a": 1}),
            json!({"z": 1}),
            json!({"sf": 1}),
            json!({"seq": 9, "trace_prev": 1}),
            json!({"event_id": "e", "trace_id": "t", "schema": "evident/1", "actor": {"id": "x", "type": "agent"},
                   "received_at": "2026", "sequence": [1, 2], "sa": true, "su": null, "tr": "x", "z": 1.5}),
            json!({"\u{20ac}": 1, "\u{1f600}": 2, "\r": 3, "ö": 4, "se": 5, "seq_x": 6, "trace": 7, "u": 8}),
            json!({"subject_prev_x": 1, "trace_prev_": 2, "seq\u{0}": 3, "r": {"seq": 1}}),
        ] {
            let map = record.as_object().unwrap();
            let members = CanonicalMembers::of(map);
            let mut without_position = map.clone();
            for name in POSITION_MEMBERS {
                without_position.remove(name);
            }
            assert_eq!(
                members.object_len(),
                canonical_bytes(&Value::Object(without_position)).len(),
                "{record}"
            );
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
