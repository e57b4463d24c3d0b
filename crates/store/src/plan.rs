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

use std::collections::{HashMap, HashSet};

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
    /// An event of this group is written at `seq` with the same submission: answer
    /// with that entry (its leaf hash is known once it is written).
    SameAsNew { seq: u64 },
}

/// What a back-link follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkKind {
    Trace,
    Subject,
}

/// A trace or subject whose newest `seq` before the group the backend must look up:
/// `first_seq` is the first new entry of the request that continues it (the embedded
/// store numbers new traces by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLookup<'a> {
    pub kind: LinkKind,
    pub value: &'a str,
    pub first_seq: u64,
}

/// The newest `seq` before the group of each [`LinkLookup`], `None` where the group
/// starts the trace or subject.
pub type LinksBefore = HashMap<(LinkKind, String), Option<u64>>;

/// A new entry of a request: where it goes and what it links back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEntry {
    /// Its index in the request.
    pub index: usize,
    pub seq: u64,
    pub trace_prev: Option<u64>,
    pub subject_prev: Option<u64>,
}

/// The decisions of one group commit, taken a request at a time, so that a backend
/// can apply a request's effects (which may be refused) between planning it and
/// accepting it.
///
/// Per request: [`GroupPlanner::ids_to_look_up`] → the backend reads their first
/// answers → [`GroupPlanner::plan`] (pure; a conflict stores nothing) → the backend
/// applies the request's effects → [`GroupPlanner::links_to_look_up`] → the backend
/// reads them → [`GroupPlanner::accept`] gives each new entry its `seq` and back-links
/// → the backend writes them → [`answers`].
#[derive(Debug, Default)]
pub struct GroupPlanner {
    first_seq: u64,
    next_seq: u64,
    /// `event_id` → (seq, submission digest) of what accepted requests write.
    written: HashMap<String, (u64, [u8; 32])>,
    /// The newest `seq` of each trace and subject the group has written.
    last: HashMap<(LinkKind, String), u64>,
}

impl GroupPlanner {
    /// A group on a tree of `first_seq` entries.
    pub fn new(first_seq: u64) -> Self {
        Self {
            first_seq,
            next_seq: first_seq,
            ..Self::default()
        }
    }

    /// The tree size before the group.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The tree size once every accepted request is written.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The newest `seq` of each trace and subject the group wrote (for a backend's
    /// cache once the group commits).
    pub fn last_links(&self) -> impl Iterator<Item = (LinkKind, &str, u64)> + '_ {
        self.last
            .iter()
            .map(|((kind, value), seq)| (*kind, value.as_str(), *seq))
    }

    /// The request's `event_id`s that the group has not written, once each: those the
    /// backend looks up in the log before [`GroupPlanner::plan`].
    pub fn ids_to_look_up<'a>(&self, request: &'a AppendRequest) -> Vec<&'a str> {
        let mut seen = HashSet::new();
        request
            .events
            .iter()
            .map(|e| e.event.index.event_id.as_str())
            .filter(|id| !self.written.contains_key(*id) && seen.insert(*id))
            .collect()
    }

    /// Plans a request. `stored` holds the first answer of each of its ids already in
    /// the log (see [`GroupPlanner::ids_to_look_up`]; absent: not in the log).
    ///
    /// # Errors
    /// [`AppendOutcome::Conflict`] if an `event_id` comes back with other content: the
    /// request stores nothing.
    pub fn plan(
        &self,
        request: &AppendRequest,
        stored: &HashMap<String, FirstAnswer>,
    ) -> Result<Vec<EventPlan>, AppendOutcome> {
        let mut next_seq = self.next_seq;
        let mut in_request: HashMap<&str, usize> = HashMap::new();
        let mut plans: Vec<EventPlan> = Vec::with_capacity(request.events.len());
        for (index, appended) in request.events.iter().enumerate() {
            let event_id = appended.event.index.event_id.as_str();
            let digest = appended.event.submission_digest;
            let conflict = || AppendOutcome::Conflict {
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
            let plan = if let Some(&(seq, first_digest)) = self.written.get(event_id) {
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

    /// The traces and subjects the request's new entries continue that the group has
    /// not written yet, once each: whose newest `seq` before the group the backend
    /// looks up before [`GroupPlanner::accept`].
    pub fn links_to_look_up<'a>(
        &self,
        request: &'a AppendRequest,
        plan: &[EventPlan],
    ) -> Vec<LinkLookup<'a>> {
        let mut seen = HashSet::new();
        let mut lookups = Vec::new();
        for (index, seq) in new_entries(plan) {
            let keys = &request.events[index].event.index;
            let trace = Some((LinkKind::Trace, keys.trace_id.as_str()));
            let subject = keys.subject.as_deref().map(|s| (LinkKind::Subject, s));
            for (kind, value) in [trace, subject].into_iter().flatten() {
                if !self.last.contains_key(&(kind, value.to_owned())) && seen.insert((kind, value))
                {
                    lookups.push(LinkLookup {
                        kind,
                        value,
                        first_seq: seq,
                    });
                }
            }
        }
        lookups
    }

    /// Accepts a planned request: its new entries take their `seq`s and back-links,
    /// in order. `before` answers [`GroupPlanner::links_to_look_up`].
    ///
    /// # Panics
    /// If `plan` was not made by [`GroupPlanner::plan`] for this request at this point
    /// of the group (a backend bug).
    pub fn accept(
        &mut self,
        request: &AppendRequest,
        plan: &[EventPlan],
        before: &LinksBefore,
    ) -> Vec<NewEntry> {
        let mut entries = Vec::new();
        for (index, seq) in new_entries(plan) {
            assert_eq!(seq, self.next_seq, "plans are accepted in the order made");
            self.next_seq += 1;
            let event = &request.events[index].event;
            let keys = &event.index;
            self.written
                .insert(keys.event_id.clone(), (seq, event.submission_digest));
            let trace_prev = self.link(before, LinkKind::Trace, &keys.trace_id, seq);
            let subject_prev = keys
                .subject
                .as_deref()
                .and_then(|subject| self.link(before, LinkKind::Subject, subject, seq));
            entries.push(NewEntry {
                index,
                seq,
                trace_prev,
                subject_prev,
            });
        }
        entries
    }

    /// The back-link of a new entry at `seq`, which becomes the newest of `value`.
    fn link(&mut self, before: &LinksBefore, kind: LinkKind, value: &str, seq: u64) -> Option<u64> {
        let key = (kind, value.to_owned());
        let previous = match self.last.get(&key) {
            Some(seq) => Some(*seq),
            None => before.get(&key).copied().flatten(),
        };
        self.last.insert(key, seq);
        previous
    }
}

/// `(index in the request, seq)` of each new entry of a plan.
fn new_entries(plan: &[EventPlan]) -> impl Iterator<Item = (usize, u64)> + '_ {
    plan.iter().enumerate().filter_map(|(i, p)| match p {
        EventPlan::New { seq } => Some((i, *seq)),
        _ => None,
    })
}

/// The answer to an accepted request once its new entries are written; `leaf_of`
/// gives the leaf hash of an entry the group wrote.
pub fn answers(
    request: &AppendRequest,
    plan: &[EventPlan],
    leaf_of: impl Fn(u64) -> Hash,
) -> Vec<Appended> {
    plan.iter()
        .zip(&request.events)
        .map(|(plan, event)| match plan {
            EventPlan::Stored(first) => first.clone(),
            EventPlan::New { seq } | EventPlan::SameAsNew { seq } => Appended {
                event_id: event.event.index.event_id.clone(),
                seq: *seq,
                leaf_hash: leaf_of(*seq),
                is_dup: matches!(plan, EventPlan::SameAsNew { .. }),
            },
        })
        .collect()
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

    /// Plans and accepts each request in turn with nothing stored before the group,
    /// as a backend would.
    fn run(
        first_seq: u64,
        requests: &[AppendRequest],
    ) -> (GroupPlanner, Vec<Result<Vec<EventPlan>, AppendOutcome>>) {
        let mut planner = GroupPlanner::new(first_seq);
        let mut plans = Vec::new();
        for request in requests {
            let plan = planner.plan(request, &HashMap::new());
            if let Ok(plan) = &plan {
                planner.accept(request, plan, &LinksBefore::new());
            }
            plans.push(plan);
        }
        (planner, plans)
    }

    #[test]
    fn new_events_take_consecutive_seqs_across_requests() {
        let requests = vec![
            request(vec![ev("a", "t1", None, "x"), ev("b", "t1", None, "y")]),
            request(vec![ev("c", "t2", None, "z")]),
        ];
        let (planner, plans) = run(10, &requests);
        assert_eq!(planner.next_seq(), 13);
        assert_eq!(
            plans,
            vec![
                Ok(vec![EventPlan::New { seq: 10 }, EventPlan::New { seq: 11 }]),
                Ok(vec![EventPlan::New { seq: 12 }]),
            ]
        );
    }

    #[test]
    fn the_same_id_twice_in_one_group_is_one_entry_or_a_conflict() {
        let first = ev("a", "t1", None, "x");
        let requests = vec![
            request(vec![first.clone()]),
            request(vec![first]),
            request(vec![
                ev("b", "t1", None, "y"),
                ev("a", "t1", None, "different"),
            ]),
            request(vec![ev("b", "t1", None, "y")]),
        ];
        let (planner, plans) = run(0, &requests);
        assert_eq!(
            plans,
            vec![
                Ok(vec![EventPlan::New { seq: 0 }]),
                Ok(vec![EventPlan::SameAsNew { seq: 0 }]),
                Err(AppendOutcome::Conflict {
                    index: 1,
                    event_id: "a".into()
                }),
                // The conflicting request took no seq: "b" is new here.
                Ok(vec![EventPlan::New { seq: 1 }]),
            ]
        );
        assert_eq!(planner.next_seq(), 2);
        assert!(planner.ids_to_look_up(&requests[1]).is_empty());
        let answered = answers(&requests[1], plans[1].as_ref().unwrap(), |_| Hash([1; 32]));
        assert_eq!(
            answered,
            vec![Appended {
                event_id: "a".into(),
                seq: 0,
                leaf_hash: Hash([1; 32]),
                is_dup: true
            }]
        );
    }

    #[test]
    fn a_plan_not_accepted_takes_nothing() {
        let requests = [
            request(vec![ev("a", "t1", None, "x")]),
            request(vec![ev("a", "t1", None, "x")]),
        ];
        let mut planner = GroupPlanner::new(0);
        // The first request's effects are refused: it is planned, never accepted.
        let _refused = planner.plan(&requests[0], &HashMap::new()).unwrap();
        let plan = planner.plan(&requests[1], &HashMap::new()).unwrap();
        assert_eq!(plan, vec![EventPlan::New { seq: 0 }]);
        planner.accept(&requests[1], &plan, &LinksBefore::new());
        assert_eq!(planner.next_seq(), 1);
    }

    #[test]
    fn a_repeat_inside_one_request_answers_like_its_first() {
        let e = ev("a", "t1", None, "x");
        let requests = [request(vec![e.clone(), e.clone()])];
        let stored = HashMap::from([(
            "a".to_owned(),
            FirstAnswer {
                seq: 3,
                digest: e.event.submission_digest,
                leaf_hash: Hash([9; 32]),
            },
        )]);
        let planner = GroupPlanner::new(7);
        assert_eq!(planner.ids_to_look_up(&requests[0]), vec!["a"]);
        let first = EventPlan::Stored(Appended {
            event_id: "a".into(),
            seq: 3,
            leaf_hash: Hash([9; 32]),
            is_dup: true,
        });
        assert_eq!(
            planner.plan(&requests[0], &stored),
            Ok(vec![first.clone(), first])
        );

        let changed = request(vec![e.clone(), ev("a", "t1", None, "y")]);
        assert_eq!(
            planner.plan(&changed, &HashMap::new()),
            Err(AppendOutcome::Conflict {
                index: 1,
                event_id: "a".into()
            })
        );
        let mut other_digest = stored;
        other_digest.get_mut("a").unwrap().digest = [0; 32];
        assert!(matches!(
            planner.plan(&request(vec![e]), &other_digest),
            Err(AppendOutcome::Conflict { index: 0, .. })
        ));
    }

    #[test]
    fn back_links_follow_the_group_then_what_was_before() {
        let requests = [
            request(vec![
                ev("a", "t1", Some("jane"), "x"),
                ev("b", "t2", None, "y"),
            ]),
            request(vec![ev("c", "t1", Some("jane"), "z")]),
        ];
        let subject = requests[0].events[0].event.index.subject.clone().unwrap();
        let mut planner = GroupPlanner::new(5);
        let plan = planner.plan(&requests[0], &HashMap::new()).unwrap();
        let lookups = planner.links_to_look_up(&requests[0], &plan);
        assert_eq!(
            lookups
                .iter()
                .map(|l| (l.kind, l.value, l.first_seq))
                .collect::<Vec<_>>(),
            vec![
                (LinkKind::Trace, "t1", 5),
                (LinkKind::Subject, subject.as_str(), 5),
                (LinkKind::Trace, "t2", 6)
            ]
        );
        let before = LinksBefore::from([
            ((LinkKind::Trace, "t1".to_owned()), Some(2)),
            ((LinkKind::Subject, subject.clone()), Some(4)),
            ((LinkKind::Trace, "t2".to_owned()), None),
        ]);
        let first = planner.accept(&requests[0], &plan, &before);
        let plan = planner.plan(&requests[1], &HashMap::new()).unwrap();
        // Everything the second request continues is the group's own.
        assert!(planner.links_to_look_up(&requests[1], &plan).is_empty());
        let second = planner.accept(&requests[1], &plan, &LinksBefore::new());
        let entry = |index, seq, trace_prev, subject_prev| NewEntry {
            index,
            seq,
            trace_prev,
            subject_prev,
        };
        assert_eq!(
            first,
            vec![entry(0, 5, Some(2), Some(4)), entry(1, 6, None, None)]
        );
        assert_eq!(second, vec![entry(0, 7, Some(5), Some(5))]);
        let mut last: Vec<_> = planner.last_links().collect();
        last.sort();
        assert_eq!(
            last,
            vec![
                (LinkKind::Trace, "t1", 7),
                (LinkKind::Trace, "t2", 6),
                (LinkKind::Subject, subject.as_str(), 7)
            ]
        );
    }
}
