//! # lobby-index
//!
//! Ordered, counted views over inquiries, kept in memory by the embedded stores (`lobby-memory`,
//! `lobby-sled`) so that a page at *any* offset costs O(log n + page) and a total costs O(1).
//!
//! A view is one (filter, sort field) pair — "open inquiries of department D by `ts`" — held
//! as a [`RankedSet`] of [`SortKey`]s. Views are built the first time a listing asks for
//! that shape (one O(n log n) pass) and from then on maintained on every write, so the steady
//! state of a server, which asks the same few shapes over and over, never scans. Descending
//! order walks the same view backwards. The least recently used view is dropped when there
//! are more than [`IndexConfig::max_views`].
//!
//! ```
//! use lobby_core::{InquiryFilter, InquiryQuery, InquirySort, InquiryStatus, SortField};
//! use lobby_index::InquiryIndex;
//!
//! let index = InquiryIndex::default();
//! let query = InquiryQuery {
//!     filter: InquiryFilter::status(InquiryStatus::Open),
//!     sort: InquirySort::descending(SortField::Ts),
//!     offset: 0,
//!     limit: 50,
//! };
//! let (ids, total) = index.page(&query);
//! assert_eq!((ids.len(), total), (0, 0));
//! ```

#![warn(missing_docs)]

pub mod ranked;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use lobby_core::{
    Direction, Inquiry, InquiryFacts, InquiryFilter, InquiryId, InquiryQuery, InquirySort, ReservationFilter,
    SortField, SortKey,
};
use parking_lot::RwLock;

pub use ranked::RankedSet;

/// Index settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Views kept at once; each costs memory proportional to the inquiries it holds.
    pub max_views: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self { max_views: 64 }
    }
}

type ViewKey = (InquiryFilter, SortField);

struct View {
    keys: RankedSet<SortKey>,
    last_used: AtomicU64,
}

/// The facts of every inquiry and the views built over them so far.
pub struct InquiryIndex {
    facts: HashMap<InquiryId, InquiryFacts>,
    /// The inquiries reserved for an agent (`defaultAgent`). Views ignore reservations — keyed by
    /// one, every agent's `queuedForUser` would be a view of its own, rebuilt each time more
    /// agents ask than `max_views` allows and maintained on every write — so a page skips the
    /// few reserved for others instead (see [`InquiryIndex::shared_view`]).
    reserved: HashSet<InquiryId>,
    views: RwLock<HashMap<ViewKey, View>>,
    use_clock: AtomicU64,
    config: IndexConfig,
}

impl Default for InquiryIndex {
    fn default() -> Self {
        Self::new(IndexConfig::default())
    }
}

impl InquiryIndex {
    /// An empty index with no views yet.
    pub fn new(config: IndexConfig) -> Self {
        Self {
            facts: HashMap::new(),
            reserved: HashSet::new(),
            views: RwLock::new(HashMap::new()),
            use_clock: AtomicU64::new(0),
            config: IndexConfig { max_views: config.max_views.max(1) },
        }
    }

    /// Inquiries indexed.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether no inquiry is indexed.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// The facts indexed for an inquiry.
    pub fn facts(&self, id: &InquiryId) -> Option<&InquiryFacts> {
        self.facts.get(id)
    }

    /// Every indexed inquiry's facts, in no particular order.
    pub fn all_facts(&self) -> impl Iterator<Item = &InquiryFacts> {
        self.facts.values()
    }

    /// Adds or replaces an inquiry, updating every live view it enters, leaves or moves in.
    pub fn upsert(&mut self, inquiry: &Inquiry) {
        let new = InquiryFacts::of(inquiry);
        if new.reserved_for.is_some() {
            self.reserved.insert(new.id.clone());
        } else {
            self.reserved.remove(&new.id);
        }
        let old = self.facts.insert(new.id.clone(), new.clone());
        for ((filter, field), view) in self.views.get_mut().iter_mut() {
            if let Some(old) = &old {
                if filter.matches_facts(old) {
                    view.keys.remove(&SortKey::of_facts(old, *field));
                }
            }
            if filter.matches_facts(&new) {
                view.keys.insert(SortKey::of_facts(&new, *field));
            }
        }
    }

    /// Drops an inquiry from the index and every view.
    pub fn remove(&mut self, id: &InquiryId) {
        let Some(old) = self.facts.remove(id) else { return };
        self.reserved.remove(id);
        for ((filter, field), view) in self.views.get_mut().iter_mut() {
            if filter.matches_facts(&old) {
                view.keys.remove(&SortKey::of_facts(&old, *field));
            }
        }
    }

    /// The ids on the query's page, in order, and how many inquiries match in all.
    pub fn page(&self, query: &InquiryQuery) -> (Vec<InquiryId>, usize) {
        let (shared, skipped) = self.shared_view(&query.filter, query.sort.field);
        self.with_view(&shared, query.sort.field, |keys| {
            let position = |key: &SortKey| in_direction(keys, key, query.sort.direction);
            let mut skipped_positions: Vec<usize> = skipped.iter().map(position).collect();
            skipped_positions.sort_unstable();
            // The shared view's position of the page's first item: the offset, moved past every
            // skipped inquiry at or before it.
            let mut start = query.offset;
            for skipped_at in skipped_positions {
                if skipped_at > start {
                    break;
                }
                start += 1;
            }
            let skipped_ids: HashSet<&InquiryId> = skipped.iter().map(|key| &key.id).collect();
            let wanted = |key: &&SortKey| !skipped_ids.contains(&key.id);
            let ids: Vec<InquiryId> = match query.sort.direction {
                Direction::Ascending => {
                    keys.iter_from(start).filter(wanted).take(query.limit).map(|k| k.id.clone()).collect()
                }
                Direction::Descending => {
                    keys.iter_rev_from(start).filter(wanted).take(query.limit).map(|k| k.id.clone()).collect()
                }
            };
            (ids, keys.len() - skipped.len())
        })
    }

    /// How many inquiries matching `filter` come before `id` in `sort` order; `None` when `id` is
    /// unknown or does not match.
    pub fn count_before(&self, filter: &InquiryFilter, sort: InquirySort, id: &InquiryId) -> Option<usize> {
        let facts = self.facts.get(id)?;
        if !filter.matches_facts(facts) {
            return None;
        }
        let key = SortKey::of_facts(facts, sort.field);
        let (shared, skipped) = self.shared_view(filter, sort.field);
        self.with_view(&shared, sort.field, |keys| {
            let at = in_direction(keys, &key, sort.direction);
            let skipped_before = skipped.iter().filter(|s| in_direction(keys, s, sort.direction) < at).count();
            Some(at - skipped_before)
        })
    }

    /// The view a filter's pages come from, and the keys in it that the filter leaves out. For a
    /// filter of inquiries available to one agent, that is the view of every reservation, minus
    /// the inquiries reserved for someone else; any other filter is its own view.
    fn shared_view(&self, filter: &InquiryFilter, field: SortField) -> (InquiryFilter, Vec<SortKey>) {
        if let ReservationFilter::Any = filter.reservation {
            return (filter.clone(), Vec::new());
        }
        let shared = InquiryFilter { reservation: ReservationFilter::Any, ..filter.clone() };
        let skipped = self
            .reserved
            .iter()
            .filter_map(|id| self.facts.get(id))
            .filter(|facts| shared.matches_facts(facts) && !filter.matches_facts(facts))
            .map(|facts| SortKey::of_facts(facts, field))
            .collect();
        (shared, skipped)
    }

    /// Live views (for tests and diagnostics).
    pub fn view_count(&self) -> usize {
        self.views.read().len()
    }

    fn with_view<T>(&self, filter: &InquiryFilter, field: SortField, read: impl FnOnce(&RankedSet<SortKey>) -> T) -> T {
        let stamp = self.use_clock.fetch_add(1, Ordering::Relaxed);
        let key = (filter.clone(), field);
        {
            let views = self.views.read();
            if let Some(view) = views.get(&key) {
                view.last_used.store(stamp, Ordering::Relaxed);
                return read(&view.keys);
            }
        }
        let mut views = self.views.write();
        if !views.contains_key(&key) {
            if views.len() >= self.config.max_views {
                let oldest =
                    views.iter().min_by_key(|(_, v)| v.last_used.load(Ordering::Relaxed)).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    views.remove(&oldest);
                }
            }
            let view = View { keys: self.build(filter, field), last_used: AtomicU64::new(stamp) };
            views.insert(key.clone(), view);
        }
        read(&views[&key].keys)
    }

    fn build(&self, filter: &InquiryFilter, field: SortField) -> RankedSet<SortKey> {
        let mut keys: Vec<SortKey> =
            self.facts.values().filter(|f| filter.matches_facts(f)).map(|f| SortKey::of_facts(f, field)).collect();
        keys.sort_unstable();
        RankedSet::from_sorted(keys)
    }
}

/// Where `key` (which `keys` holds) stands when walking in `direction`.
fn in_direction(keys: &RankedSet<SortKey>, key: &SortKey, direction: Direction) -> usize {
    match direction {
        Direction::Ascending => keys.rank(key),
        Direction::Descending => keys.len() - keys.rank(key) - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lobby_core::*;
    use proptest::prelude::*;

    fn inquiry(n: u32, status: InquiryStatus, department: Option<&str>, name: &str) -> Inquiry {
        let ts = Timestamp::from_millis(1_000 + i64::from(n % 7) * 10);
        let visitor = VisitorSummary::new(VisitorId::new("v").unwrap(), "guest", "t");
        let (id, rid) = (InquiryId::new(format!("i{n:03}")).unwrap(), RoomId::new(format!("r{n:03}")).unwrap());
        Inquiry {
            status,
            department: department.map(|d| DepartmentId::new(d).unwrap()),
            priority_weight: PriorityWeight::new((n % 5 + 1) as u8).unwrap(),
            estimated_waiting_time_queue: u64::from(n % 3),
            updated_at: Timestamp::from_millis(i64::from(n)),
            ..Inquiry::new(id, rid, visitor, name, ts)
        }
    }

    fn arb_inquiry() -> impl Strategy<Value = Inquiry> {
        (
            0u32..40,
            0usize..InquiryStatus::ALL.len(),
            prop::option::of(prop::sample::select(vec!["d1", "d2"])),
            prop::sample::select(vec!["Ann", "Bob", "ann"]),
            prop::option::of(prop::sample::select(vec!["a1", "a2"])),
        )
            .prop_map(|(n, s, d, name, reserved_for)| Inquiry {
                default_agent: reserved_for
                    .map(|agent| DefaultAgent { agent_id: UserId::new(agent).unwrap(), username: agent.to_owned() }),
                ..inquiry(n, InquiryStatus::ALL[s], d, name)
            })
    }

    fn arb_query() -> impl Strategy<Value = InquiryQuery> {
        (
            (0usize..=InquiryStatus::ALL.len(), 0usize..8, any::<bool>()),
            (0usize..30, 0usize..12, 0usize..3, prop::option::of(prop::sample::select(vec!["a1", "a2", "a3"]))),
        )
            .prop_map(|((s, f, desc), (offset, limit, d, agent))| {
                let departments = match d {
                    0 => DepartmentFilter::Any,
                    1 => DepartmentFilter::only(DepartmentId::new("d1").unwrap()),
                    _ => DepartmentFilter::In([None, Some(DepartmentId::new("d2").unwrap())].into_iter().collect()),
                };
                InquiryQuery {
                    filter: InquiryFilter {
                        statuses: match InquiryStatus::ALL.get(s) {
                            Some(status) => StatusSet::only(*status),
                            None => StatusSet::waiting(),
                        },
                        departments,
                        reservation: match agent {
                            Some(agent) => ReservationFilter::AvailableTo(UserId::new(agent).unwrap()),
                            None => ReservationFilter::Any,
                        },
                    },
                    sort: InquirySort {
                        field: SortField::ALL[f],
                        direction: if desc { Direction::Descending } else { Direction::Ascending },
                    },
                    offset,
                    limit,
                }
            })
    }

    proptest! {
        /// Interleaved writes and queries (views built early, then maintained, and some evicted)
        /// always agree with the reference page.
        #[test]
        fn pages_match_the_reference(ops in prop::collection::vec(prop_oneof![
            arb_inquiry().prop_map(Ok),
            arb_query().prop_map(Err),
        ], 1..120)) {
            let mut index = InquiryIndex::new(IndexConfig { max_views: 3 });
            let mut model: HashMap<InquiryId, Inquiry> = HashMap::new();
            for op in ops {
                match op {
                    Ok(inquiry) => {
                        index.upsert(&inquiry);
                        model.insert(inquiry.id.clone(), inquiry);
                    }
                    Err(query) => {
                        let want = query.reference_page(model.values());
                        let (ids, total) = index.page(&query);
                        prop_assert_eq!(total, want.total);
                        prop_assert_eq!(ids, want.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>());
                        for inquiry in model.values() {
                            let expected = query.filter.matches(inquiry).then(|| {
                                let all = InquiryQuery { offset: 0, limit: usize::MAX, ..query.clone() };
                                all.reference_page(model.values()).items.iter().position(|i| i.id == inquiry.id).unwrap()
                            });
                            prop_assert_eq!(index.count_before(&query.filter, query.sort, &inquiry.id), expected);
                        }
                    }
                }
                prop_assert!(index.view_count() <= 3);
            }
        }
    }

    /// Each agent's `queuedForUser` is a filter of its own (available to that agent); they must
    /// share one view, or a few more agents than `max_views` rebuild views on every request.
    #[test]
    fn agents_share_one_view_and_skip_what_is_reserved_for_others() {
        let mut index = InquiryIndex::new(IndexConfig { max_views: 3 });
        for n in 0..10 {
            let reserved_for = (n % 5 == 0).then(|| UserId::new(format!("agent-{n}")).unwrap());
            let default_agent = reserved_for.map(|agent_id| DefaultAgent { username: agent_id.to_string(), agent_id });
            index.upsert(&Inquiry { default_agent, ..inquiry(n, InquiryStatus::Open, Some("d1"), "A") });
        }
        for agent in 0..50 {
            let query = InquiryQuery {
                filter: InquiryFilter {
                    reservation: ReservationFilter::AvailableTo(UserId::new(format!("agent-{agent}")).unwrap()),
                    ..InquiryFilter::status(InquiryStatus::Open)
                },
                sort: InquirySort::default(),
                offset: 0,
                limit: 20,
            };
            let (ids, total) = index.page(&query);
            let own = usize::from(agent == 0 || agent == 5);
            assert_eq!((ids.len(), total), (8 + own, 8 + own), "agent-{agent}");
        }
        assert_eq!(index.view_count(), 1);
    }

    #[test]
    fn removed_inquiries_leave_every_view() {
        let mut index = InquiryIndex::default();
        let a = inquiry(1, InquiryStatus::Open, Some("d1"), "A");
        index.upsert(&a);
        let query = InquiryQuery {
            filter: InquiryFilter::status(InquiryStatus::Open),
            sort: InquirySort::default(),
            offset: 0,
            limit: 10,
        };
        assert_eq!(index.page(&query).1, 1);
        index.remove(&a.id);
        assert_eq!(index.page(&query), (vec![], 0));
        assert!(index.is_empty());
    }
}
