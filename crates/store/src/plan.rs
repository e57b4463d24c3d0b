//! What every backend decides before it writes a group commit, as one pure function:
//! which events are new, which answer with an earlier result, which requests conflict,
//! each new entry's `seq`, and its back-links (`trace_prev`, `subject_prev`).
//!
//! The backends differ only in how they look things up (SQLite: a cache beside the
//! writer and indexed queries; PostgreSQL: one query per group under the tree head's
//! row lock) and how they write. Keeping the decisions here means the two cannot
//! disagree on what a duplicate is, which request of a group conflicts, or where a
//! back-link points (the log lifecycle in `docs/design/log-lifecycle.md`, step 2).
//!
//! The rules, per request in group order, per event in request order:
//! - an `event_id` seen earlier in the same request: the same submission answers as
//!   that event did; other content makes the request a conflict;
//! - an `event_id` that an earlier request of this group appends: the same submission
//!   answers with that entry (`is_dup`), other content is a conflict;
//! - an `event_id` already in the log: likewise, against the stored entry;
//! - anything else is new and takes the next `seq`.
//!
//! A conflicting request stores nothing and takes no `seq`: the requests after it are
//! planned as if it had not been sent.

use std::collections::HashMap;

use evident_tlog::Hash;

use crate::{AppendOutcome, AppendRequest, Appended};

/// The first answer the log gave for an `event_id` already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAnswer {
    pub seq: u64,
    /// The digest of the submission that was stored.
    pub digest: [u8; 32],
    pub leaf_hash: Hash,
}

/// What to do with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPlan {
    /// Write it as a new entry at `seq`.
    New { seq: u64 },
    /// Already in the log: answer with the first result.
    Stored(Appended),
    /// Another event of this group is written at `seq` with the same submission:
    /// answer with that entry (its leaf hash is known once it is written).
    SameAsNew { seq: u64 },
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPlan {
    /// Every event of the request, in order.
    Append(Vec<EventPlan>),
    /// The event at `index` reuses an `event_id` with other content: store nothing.
    Conflict { index: usize, event_id: String },
}

/// The decisions for one group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub requests: Vec<RequestPlan>,
    /// The tree size before the group.
    pub first_seq: u64,
    /// The tree size after it.
    pub next_seq: u64,
}

/// Every `event_id` of the group, once each: what a backend looks up in the log
/// before calling [`plan_group`].
pub fn event_ids(requests: &[AppendRequest]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    requests
        .iter()
        .flat_map(|r| r.events.iter())
        .map(|e| e.event.index.event_id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Plans a group commit on a tree of `first_seq` entries. `stored` holds the first
/// answer of every `event_id` of the group that is already in the log (see
/// [`event_ids`]); ids absent from it are not in the log.
pub fn plan_group(
    requests: &[AppendRequest],
    stored: &HashMap<String, FirstAnswer>,
    first_seq: u64,
) -> GroupPlan {
    // event_id → (seq, submission digest) of what earlier requests of the group write.
    let mut group: HashMap<&str, (u64, [u8; 32])> = HashMap::new();
    let mut next_seq = first_seq;
    let mut plans = Vec::with_capacity(requests.len());
    for request in requests {
        match plan_request(request, stored, &group, next_seq) {
            Ok(events) => {
                for (event, plan) in request.events.iter().zip(&events) {
                    if let EventPlan::New { seq } = plan {
                        group.insert(
                            event.event.index.event_id.as_str(),
                            (*seq, event.event.submission_digest),
                        );
                        next_seq = seq + 1;
                    }
                }
                plans.push(RequestPlan::Append(events));
            }
            Err(conflict) => plans.push(conflict),
        }
    }
    GroupPlan {
        requests: plans,
        first_seq,
        next_seq,
    }
}

fn plan_request(
    request: &AppendRequest,
    stored: &HashMap<String, FirstAnswer>,
    group: &HashMap<&str, (u64, [u8; 32])>,
    first_seq: u64,
) -> Result<Vec<EventPlan>, RequestPlan> {
    let mut next_seq = first_seq;
    let mut in_request: HashMap<&str, usize> = HashMap::new();
    let mut plans: Vec<EventPlan> = Vec::with_capacity(request.events.len());
    for (index, appended) in request.events.iter().enumerate() {
        let event_id = appended.event.index.event_id.as_str();
        let digest = appended.event.submission_digest;
        let conflict = || RequestPlan::Conflict {
            index,
            event_id: event_id.to_owned(),
        };
        if let Some(&earlier) = in_request.get(event_id) {
            if request.events[earlier].event.submission_digest != digest {
                return Err(conflict());
            }
            let same = match &plans[earlier] {
                EventPlan::New { seq } => EventPlan::SameAsNew { seq: *seq },
                other => other.clone(),
            };
            plans.push(same);
            continue;
        }
        in_request.insert(event_id, index);
        let plan = if let Some(&(seq, first_digest)) = group.get(event_id) {
            if first_digest != digest {
                return Err(conflict());
            }
            EventPlan::SameAsNew { seq }
        } else if let Some(first) = stored.get(event_id) {
            if first.digest != digest {
                return Err(conflict());
            }
            EventPlan::Stored(Appended {
                event_id: event_id.to_owned(),
                seq: first.seq,
                leaf_hash: first.leaf_hash,
                is_dup: true,
            })
        } else {
            let seq = next_seq;
            next_seq += 1;
            EventPlan::New { seq }
        };
        plans.push(plan);
    }
    Ok(plans)
}

/// What a back-link follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    Trace,
    Subject,
}

impl GroupPlan {
    /// Each new event as `(seq, request index, event index)`, in `seq` order.
    pub fn new_events(&self) -> impl Iterator<Item = (u64, usize, usize)> + '_ {
        self.requests
            .iter()
            .enumerate()
            .filter_map(|(r, plan)| match plan {
                RequestPlan::Append(events) => Some((r, events)),
                RequestPlan::Conflict { .. } => None,
            })
            .flat_map(|(r, events)| {
                events
                    .iter()
                    .enumerate()
                    .filter_map(move |(e, plan)| match plan {
                        EventPlan::New { seq } => Some((*seq, r, e)),
                        _ => None,
                    })
            })
    }

    /// The traces and subjects the new entries continue, once each, in the order they
    /// first appear: whose newest `seq` before the group a backend looks up before
    /// calling [`GroupPlan::back_links`].
    pub fn link_keys<'a>(&self, requests: &'a [AppendRequest]) -> Vec<(LinkKind, &'a str)> {
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::new();
        for (_, r, e) in self.new_events() {
            let index = &requests[r].events[e].event.index;
            let trace = (LinkKind::Trace, index.trace_id.as_str());
            if seen.insert(trace) {
                keys.push(trace);
            }
            if let Some(subject) = &index.subject {
                let subject = (LinkKind::Subject, subject.as_str());
                if seen.insert(subject) {
                    keys.push(subject);
                }
            }
        }
        keys
    }

    /// `(trace_prev, subject_prev)` of each new entry, in `seq` order. `before` gives
    /// the newest `seq` before the group of each key of [`GroupPlan::link_keys`]
    /// (absent or `None`: the group starts it).
    pub fn back_links(
        &self,
        requests: &[AppendRequest],
        before: &HashMap<(LinkKind, String), Option<u64>>,
    ) -> Vec<BackLinks> {
        fn previous<'a>(
            last: &mut HashMap<(LinkKind, &'a str), u64>,
            before: &HashMap<(LinkKind, String), Option<u64>>,
            key: (LinkKind, &'a str),
            seq: u64,
        ) -> Option<u64> {
            let prev = match last.insert(key, seq) {
                Some(seq) => Some(seq),
                None => before.get(&(key.0, key.1.to_owned())).copied().flatten(),
            };
            prev
        }
        let mut last: HashMap<(LinkKind, &str), u64> = HashMap::new();
        self.new_events()
            .map(|(seq, r, e)| {
                let index = &requests[r].events[e].event.index;
                let trace = (LinkKind::Trace, index.trace_id.as_str());
                BackLinks {
                    seq,
                    trace_prev: previous(&mut last, before, trace, seq),
                    subject_prev: index.subject.as_deref().and_then(|subject| {
                        previous(&mut last, before, (LinkKind::Subject, subject), seq)
                    }),
                }
            })
            .collect()
    }

    /// The answer to each request once the new entries are written; `leaves[i]` is
    /// the leaf hash of the entry at `first_seq + i`.
    ///
    /// # Panics
    /// If `leaves` does not hold one hash per new entry (a backend bug).
    pub fn outcomes(&self, requests: &[AppendRequest], leaves: &[Hash]) -> Vec<AppendOutcome> {
        assert_eq!(
            leaves.len() as u64,
            self.next_seq - self.first_seq,
            "one leaf per new entry"
        );
        let leaf = |seq: u64| leaves[usize::try_from(seq - self.first_seq).expect("in memory")];
        self.requests
            .iter()
            .zip(requests)
            .map(|(plan, request)| match plan {
                RequestPlan::Conflict { index, event_id } => AppendOutcome::Conflict {
                    index: *index,
                    event_id: event_id.clone(),
                },
                RequestPlan::Append(events) => AppendOutcome::Appended(
                    events
                        .iter()
                        .zip(&request.events)
                        .map(|(plan, event)| {
                            let event_id = event.event.index.event_id.clone();
                            match plan {
                                EventPlan::New { seq } => Appended {
                                    event_id,
                                    seq: *seq,
                                    leaf_hash: leaf(*seq),
                                    is_dup: false,
                                },
                                EventPlan::SameAsNew { seq } => Appended {
                                    event_id,
                                    seq: *seq,
                                    leaf_hash: leaf(*seq),
                                    is_dup: true,
                                },
                                EventPlan::Stored(first) => first.clone(),
                            }
                        })
                        .collect(),
                ),
            })
            .collect()
    }
}

/// A new entry's position and back-links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackLinks {
    pub seq: u64,
    pub trace_prev: Option<u64>,
    pub subject_prev: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::test_event;
    use crate::EventToAppend;

    fn request(events: Vec<EventToAppend>) -> AppendRequest {
        AppendRequest::events(events)
    }

    fn ev(id: &str, trace: &str, subject: Option<&str>, body: &str) -> EventToAppend {
        test_event(id, trace, subject, body)
    }

    #[test]
    fn new_events_take_consecutive_seqs_across_requests() {
        let requests = vec![
            request(vec![ev("a", "t1", None, "x"), ev("b", "t1", None, "y")]),
            request(vec![ev("c", "t2", None, "z")]),
        ];
        let plan = plan_group(&requests, &HashMap::new(), 10);
        assert_eq!(plan.next_seq, 13);
        assert_eq!(
            plan.requests,
            vec![
                RequestPlan::Append(vec![EventPlan::New { seq: 10 }, EventPlan::New { seq: 11 }]),
                RequestPlan::Append(vec![EventPlan::New { seq: 12 }]),
            ]
        );
    }

    #[test]
    fn the_same_id_twice_in_one_group_is_one_entry_or_a_conflict() {
        let first = ev("a", "t1", None, "x");
        let same = first.clone();
        let other = ev("a", "t1", None, "different");
        let requests = vec![
            request(vec![first]),
            request(vec![same]),
            request(vec![ev("b", "t1", None, "y"), other]),
            request(vec![ev("b", "t1", None, "y")]),
        ];
        let plan = plan_group(&requests, &HashMap::new(), 0);
        assert_eq!(
            plan.requests,
            vec![
                RequestPlan::Append(vec![EventPlan::New { seq: 0 }]),
                RequestPlan::Append(vec![EventPlan::SameAsNew { seq: 0 }]),
                RequestPlan::Conflict {
                    index: 1,
                    event_id: "a".into()
                },
                // The conflicting request took no seq: "b" is new here.
                RequestPlan::Append(vec![EventPlan::New { seq: 1 }]),
            ]
        );
        assert_eq!(plan.next_seq, 2);
        let outcomes = plan.outcomes(&requests, &[Hash([1; 32]), Hash([2; 32])]);
        assert_eq!(
            outcomes[1],
            AppendOutcome::Appended(vec![Appended {
                event_id: "a".into(),
                seq: 0,
                leaf_hash: Hash([1; 32]),
                is_dup: true
            }])
        );
    }

    #[test]
    fn a_repeat_inside_one_request_answers_like_its_first() {
        let e = ev("a", "t1", None, "x");
        let requests = vec![request(vec![e.clone(), e.clone()])];
        let stored = HashMap::from([(
            "a".to_owned(),
            FirstAnswer {
                seq: 3,
                digest: e.event.submission_digest,
                leaf_hash: Hash([9; 32]),
            },
        )]);
        let plan = plan_group(&requests, &stored, 7);
        let first = EventPlan::Stored(Appended {
            event_id: "a".into(),
            seq: 3,
            leaf_hash: Hash([9; 32]),
            is_dup: true,
        });
        assert_eq!(
            plan.requests,
            vec![RequestPlan::Append(vec![first.clone(), first])]
        );
        assert_eq!(plan.next_seq, 7);

        let changed = vec![request(vec![e.clone(), ev("a", "t1", None, "y")])];
        assert_eq!(
            plan_group(&changed, &HashMap::new(), 0).requests,
            vec![RequestPlan::Conflict {
                index: 1,
                event_id: "a".into()
            }]
        );
        let mut other_digest = stored;
        other_digest.get_mut("a").unwrap().digest = [0; 32];
        assert!(matches!(
            plan_group(&[request(vec![e])], &other_digest, 0).requests[0],
            RequestPlan::Conflict { index: 0, .. }
        ));
    }

    #[test]
    fn back_links_follow_the_group_then_what_was_before() {
        let requests = vec![
            request(vec![
                ev("a", "t1", Some("jane"), "x"),
                ev("b", "t2", None, "y"),
            ]),
            request(vec![ev("c", "t1", Some("jane"), "z")]),
        ];
        let plan = plan_group(&requests, &HashMap::new(), 5);
        let keys = plan.link_keys(&requests);
        assert_eq!(keys.len(), 3, "{keys:?}");
        let subject = requests[0].events[0].event.index.subject.clone().unwrap();
        let before = HashMap::from([
            ((LinkKind::Trace, "t1".to_owned()), Some(2)),
            ((LinkKind::Subject, subject), Some(4)),
            ((LinkKind::Trace, "t2".to_owned()), None),
        ]);
        assert_eq!(
            plan.back_links(&requests, &before),
            vec![
                BackLinks {
                    seq: 5,
                    trace_prev: Some(2),
                    subject_prev: Some(4)
                },
                BackLinks {
                    seq: 6,
                    trace_prev: None,
                    subject_prev: None
                },
                BackLinks {
                    seq: 7,
                    trace_prev: Some(5),
                    subject_prev: Some(5)
                },
            ]
        );
    }
}
