//! What a listing asks a store for: a filter, a total order, and a window. The order is defined
//! here, once, by [`SortKey`]; every store must return exactly the order of
//! [`InquiryQuery::reference_page`], which the conformance suite checks.

use std::collections::BTreeSet;

use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::model::{Inquiry, InquiryStatus};

/// A set of statuses, e.g. "waiting" = queued or open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusSet(u8);

impl StatusSet {
    /// Every status.
    pub const ALL: StatusSet = StatusSet((1 << InquiryStatus::ALL.len()) - 1);

    /// Just `status`.
    pub fn only(status: InquiryStatus) -> Self {
        Self(Self::bit(status))
    }

    /// Queued or open: in the queue, not served yet.
    pub fn waiting() -> Self {
        Self(Self::bit(InquiryStatus::Queued) | Self::bit(InquiryStatus::Open))
    }

    /// Any of `statuses`.
    pub fn of(statuses: impl IntoIterator<Item = InquiryStatus>) -> Self {
        Self(statuses.into_iter().fold(0, |bits, s| bits | Self::bit(s)))
    }

    /// Whether `status` is in the set.
    pub fn contains(self, status: InquiryStatus) -> bool {
        self.0 & Self::bit(status) != 0
    }

    /// The statuses in the set, in life order.
    pub fn iter(self) -> impl Iterator<Item = InquiryStatus> {
        InquiryStatus::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    fn bit(status: InquiryStatus) -> u8 {
        1 << (status as u8)
    }
}

/// Which departments' inquiries to include.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DepartmentFilter {
    /// Every department, and the public queue.
    #[default]
    Any,
    /// Inquiries whose department is one of these; `None` in the set stands for "no department"
    /// (the public queue).
    In(BTreeSet<Option<DepartmentId>>),
}

impl DepartmentFilter {
    /// Just this department's inquiries.
    pub fn only(department: DepartmentId) -> Self {
        Self::In(BTreeSet::from([Some(department)]))
    }

    /// Whether an inquiry of `department` (`None`: the public queue) passes.
    pub fn matches(&self, department: Option<&DepartmentId>) -> bool {
        match self {
            Self::Any => true,
            Self::In(set) => set.contains(&department.cloned()),
        }
    }
}

/// Reserved inquiries (`defaultAgent`) are only for their agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ReservationFilter {
    /// Reserved or not.
    #[default]
    Any,
    /// Unreserved inquiries and those reserved for this agent.
    AvailableTo(UserId),
}

impl ReservationFilter {
    /// Whether an inquiry reserved for `reserved_for` (if anyone) passes.
    pub fn matches(&self, reserved_for: Option<&UserId>) -> bool {
        match self {
            Self::Any => true,
            Self::AvailableTo(agent) => reserved_for.is_none_or(|reserved| reserved == agent),
        }
    }
}

/// Which inquiries a listing includes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InquiryFilter {
    /// Which statuses.
    pub statuses: StatusSet,
    /// Which departments.
    pub departments: DepartmentFilter,
    /// Which reservations.
    pub reservation: ReservationFilter,
}

impl InquiryFilter {
    /// Every inquiry, whatever its status, department or reservation.
    pub fn all() -> Self {
        Self { statuses: StatusSet::ALL, departments: DepartmentFilter::Any, reservation: ReservationFilter::Any }
    }

    /// Every inquiry of one status.
    pub fn status(status: InquiryStatus) -> Self {
        Self {
            statuses: StatusSet::only(status),
            departments: DepartmentFilter::Any,
            reservation: ReservationFilter::Any,
        }
    }

    /// Whether `inquiry` passes every part of the filter.
    pub fn matches(&self, inquiry: &Inquiry) -> bool {
        self.matches_facts(&InquiryFacts::of(inquiry))
    }

    /// [`InquiryFilter::matches`] on the facts an index keeps.
    pub fn matches_facts(&self, facts: &InquiryFacts) -> bool {
        self.statuses.contains(facts.status)
            && self.departments.matches(facts.department.as_ref())
            && self.reservation.matches(facts.reserved_for.as_ref())
    }
}

/// The fields of an inquiry that filters and sort orders read: what an index keeps in memory
/// when the full records live elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryFacts {
    /// The inquiry's id.
    pub id: InquiryId,
    /// Its status.
    pub status: InquiryStatus,
    /// Its department.
    pub department: Option<DepartmentId>,
    /// The agent it is reserved for.
    pub reserved_for: Option<UserId>,
    /// `ts` in milliseconds.
    pub ts: i64,
    /// The visitor's name.
    pub name: String,
    /// `_updatedAt` in milliseconds.
    pub updated_at: i64,
    /// `priorityWeight`.
    pub priority_weight: u8,
    /// `estimatedWaitingTimeQueue`.
    pub estimated_waiting_time_queue: u64,
    /// Queue age: `queuedAt`, else `ts`.
    pub age: i64,
}

impl InquiryFacts {
    /// The facts of `inquiry`.
    pub fn of(inquiry: &Inquiry) -> Self {
        Self {
            id: inquiry.id.clone(),
            status: inquiry.status,
            department: inquiry.department.clone(),
            reserved_for: inquiry.default_agent.as_ref().map(|d| d.agent_id.clone()),
            ts: inquiry.ts.as_millis(),
            name: inquiry.name.clone(),
            updated_at: inquiry.updated_at.as_millis(),
            priority_weight: inquiry.priority_weight.get(),
            estimated_waiting_time_queue: inquiry.estimated_waiting_time_queue,
            age: inquiry.age_key().as_millis(),
        }
    }
}

/// The fields an inquiry listing can be sorted by. Each is a total order: equal values are
/// ordered by the queue age, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SortField {
    /// `ts`: created.
    Ts,
    /// `name`: the visitor's name, by bytes (as MongoDB compares strings).
    Name,
    /// `status`, by its wire name.
    Status,
    /// `department` id; inquiries without one come first.
    Department,
    /// `_updatedAt`.
    UpdatedAt,
    /// `priorityWeight` (1 first), then queue age: the "priority" queue order.
    PriorityWeight,
    /// `estimatedWaitingTimeQueue`, then queue age: the "SLA" queue order.
    EstimatedWaitingTime,
    /// `queuedAt` (falls back to `ts`): the "timestamp" queue order.
    QueuedAt,
}

impl SortField {
    /// Every field.
    pub const ALL: [SortField; 8] = [
        Self::Ts,
        Self::Name,
        Self::Status,
        Self::Department,
        Self::UpdatedAt,
        Self::PriorityWeight,
        Self::EstimatedWaitingTime,
        Self::QueuedAt,
    ];

    /// The wire field name, as used in `sort={"ts":-1}`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::Name => "name",
            Self::Status => "status",
            Self::Department => "department",
            Self::UpdatedAt => "_updatedAt",
            Self::PriorityWeight => "priorityWeight",
            Self::EstimatedWaitingTime => "estimatedWaitingTimeQueue",
            Self::QueuedAt => "queuedAt",
        }
    }

    /// The field with this wire name, if any.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.wire_name() == name)
    }
}

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Direction {
    /// Smallest first.
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

/// One field and a direction: `sort={"ts":-1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InquirySort {
    /// The field.
    pub field: SortField,
    /// The direction.
    pub direction: Direction,
}

impl InquirySort {
    /// By `field`, smallest first.
    pub fn ascending(field: SortField) -> Self {
        Self { field, direction: Direction::Ascending }
    }

    /// By `field`, largest first.
    pub fn descending(field: SortField) -> Self {
        Self { field, direction: Direction::Descending }
    }
}

impl Default for InquirySort {
    /// Rocket.Chat's default for `inquiries.list`: newest first.
    fn default() -> Self {
        Self::descending(SortField::Ts)
    }
}

/// The value an inquiry is ordered by under one [`SortField`], ascending. Descending order is
/// the exact reverse, id included, so every order is total and stable across pages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    /// The field's value.
    pub primary: SortValue,
    /// Queue age in milliseconds: the tie-break before the id.
    pub age: i64,
    /// The inquiry's id: the last tie-break.
    pub id: InquiryId,
}

/// A field's value, as sort keys compare it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValue {
    /// A number or time in milliseconds.
    Number(i64),
    /// `None` (e.g. no department) sorts before every text.
    Text(Option<String>),
}

impl SortKey {
    /// The key of `inquiry` under `field`.
    pub fn of(inquiry: &Inquiry, field: SortField) -> Self {
        Self::of_facts(&InquiryFacts::of(inquiry), field)
    }

    /// [`SortKey::of`] from the facts an index keeps.
    pub fn of_facts(facts: &InquiryFacts, field: SortField) -> Self {
        let primary = match field {
            SortField::Ts => SortValue::Number(facts.ts),
            SortField::Name => SortValue::Text(Some(facts.name.clone())),
            SortField::Status => SortValue::Text(Some(facts.status.as_str().to_owned())),
            SortField::Department => SortValue::Text(facts.department.as_ref().map(|d| d.as_str().to_owned())),
            SortField::UpdatedAt => SortValue::Number(facts.updated_at),
            SortField::PriorityWeight => SortValue::Number(i64::from(facts.priority_weight)),
            SortField::EstimatedWaitingTime => {
                SortValue::Number(i64::try_from(facts.estimated_waiting_time_queue).unwrap_or(i64::MAX))
            }
            SortField::QueuedAt => SortValue::Number(facts.age),
        };
        Self { primary, age: facts.age, id: facts.id.clone() }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryQuery {
    /// Which inquiries.
    pub filter: InquiryFilter,
    /// In which order.
    pub sort: InquirySort,
    /// Items to skip.
    pub offset: usize,
    /// Items to return at most.
    pub limit: usize,
}

/// A page of results and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items on this page, in order.
    pub items: Vec<T>,
    /// How many items match in all, on every page.
    pub total: usize,
}

/// Which page a caller asks for: Rocket.Chat's `offset` and `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Paging {
    /// Items to skip.
    pub offset: usize,
    /// Items wanted; capped at [`MAX_PAGE_SIZE`] by [`Paging::limit`].
    pub count: usize,
}

impl Default for Paging {
    /// The first page of [`DEFAULT_PAGE_SIZE`] items.
    fn default() -> Self {
        Self { offset: 0, count: DEFAULT_PAGE_SIZE }
    }
}

impl Paging {
    /// `count` items from `offset`.
    pub fn new(offset: usize, count: usize) -> Self {
        Self { offset, count }
    }

    /// How many items the page holds at most: `count`, capped at [`MAX_PAGE_SIZE`].
    pub fn limit(self) -> usize {
        self.count.min(MAX_PAGE_SIZE)
    }

    /// This page of `items`, which are all the matching items in order.
    pub fn page<T>(self, items: Vec<T>) -> Page<T> {
        let total = items.len();
        Page { items: items.into_iter().skip(self.offset).take(self.limit()).collect(), total }
    }
}

impl InquiryQuery {
    /// The page this query must return, computed the obvious way: filter, sort, slice. Stores
    /// must match it exactly; they are free to be faster.
    pub fn reference_page<'a>(&self, inquiries: impl IntoIterator<Item = &'a Inquiry>) -> Page<Inquiry> {
        let mut matching: Vec<(SortKey, &Inquiry)> = inquiries
            .into_iter()
            .filter(|i| self.filter.matches(i))
            .map(|i| (SortKey::of(i, self.sort.field), i))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        if self.sort.direction == Direction::Descending {
            matching.reverse();
        }
        let total = matching.len();
        let items = matching.into_iter().skip(self.offset).take(self.limit).map(|(_, i)| i.clone()).collect();
        Page { items, total }
    }
}
