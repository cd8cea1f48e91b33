//! Listings: order, filters, pages and totals against the reference, and queue positions.

use std::collections::HashMap;

use lobby_core::{
    DepartmentFilter, DepartmentId, Direction, Inquiry, InquiryFilter, InquiryId, InquiryQuery, InquirySort,
    InquiryStatus, Record, RecordKey, ReservationFilter, SortField, StatusSet, Store, StoreExt, UserId, Write,
};

use super::{put, seed_inquiries, MakeStore};
use crate::fixtures::{random_inquiry, rng};

/// A deleted inquiry is gone from reads, room lookups, listings and totals.
pub fn deleted_records_leave_reads_and_listings<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiries = seed_inquiries(&store, 40, 3);
    let mut model: HashMap<InquiryId, Inquiry> = inquiries.iter().map(|i| (i.id.clone(), i.clone())).collect();
    for gone in inquiries.iter().step_by(3) {
        let version = store.inquiry(&gone.id).unwrap().expect("seeded").version;
        put(&store, vec![Write::delete(RecordKey::Inquiry(gone.id.clone()), version)]).unwrap();
        model.remove(&gone.id);
        assert_eq!(store.inquiry(&gone.id).unwrap(), None, "deleted {}", gone.id);
        assert_eq!(store.inquiry_by_room(&gone.rid).unwrap(), None, "the room of deleted {}", gone.id);
    }
    assert_listings_match(&store, &model);
}

/// Every sort field, direction, filter, offset and page size returns exactly the reference
/// page and total.
pub fn listing_matches_the_reference<S: Store>(make: MakeStore<S>) {
    let store = make();
    let model = seed_inquiries(&store, 300, 4).into_iter().map(|i| (i.id.clone(), i)).collect();
    assert_listings_match(&store, &model);
}

/// Listings stay exact while inquiries change status, department, name and times.
pub fn listing_follows_updates<S: Store>(make: MakeStore<S>) {
    let store = make();
    let mut model: HashMap<InquiryId, Inquiry> =
        seed_inquiries(&store, 200, 5).into_iter().map(|i| (i.id.clone(), i)).collect();
    // Build the views first, so that the updates below must maintain them.
    assert_listings_match(&store, &model);
    let mut rng = rng(6);
    let mut ids: Vec<InquiryId> = model.keys().cloned().collect();
    ids.sort();
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 2 == 0) {
        let current = store.inquiry(id).unwrap().unwrap();
        let mut changed = random_inquiry(n, &mut rng);
        changed.id = id.clone();
        changed.rid = current.value.rid.clone();
        put(&store, vec![Write::update(current.version, Record::Inquiry(changed.clone()))]).unwrap();
        model.insert(id.clone(), changed);
    }
    assert_listings_match(&store, &model);
}

/// `count_before` is the inquiry's index in the full reference order, or `None` if it does not
/// match the filter or does not exist.
pub fn count_before_matches_the_reference<S: Store>(make: MakeStore<S>) {
    let store = make();
    let inquiries = seed_inquiries(&store, 120, 7);
    for query in sample_queries().into_iter().filter(|q| q.offset == 0 && q.limit == 10) {
        let all = InquiryQuery { offset: 0, limit: usize::MAX, ..query.clone() };
        let order: Vec<InquiryId> = all.reference_page(&inquiries).items.into_iter().map(|i| i.id).collect();
        for inquiry in inquiries.iter().step_by(7) {
            let want = order.iter().position(|id| id == &inquiry.id);
            let got = store.count_before(&query.filter, query.sort, &inquiry.id).unwrap();
            assert_eq!(got, want, "count_before {} for {query:?}", inquiry.id);
        }
    }
    let unknown = InquiryId::new("unknown").unwrap();
    for filter in [InquiryFilter::status(InquiryStatus::Open), InquiryFilter::all()] {
        let got = store.count_before(&filter, InquirySort::default(), &unknown).unwrap();
        assert_eq!(got, None, "count_before of an inquiry that does not exist, for {filter:?}");
    }
}

/// The queries a listing must answer exactly: every sort field and direction, several filters,
/// offsets from 0 to past the end, and page sizes from 0 up.
fn sample_queries() -> Vec<InquiryQuery> {
    let dep = |n: u32| Some(DepartmentId::new(format!("dep{n}")).unwrap());
    let filters = [
        InquiryFilter::status(InquiryStatus::Open),
        InquiryFilter::all(),
        InquiryFilter {
            statuses: StatusSet::waiting(),
            departments: DepartmentFilter::In([dep(1), None].into_iter().collect()),
            reservation: ReservationFilter::Any,
        },
        InquiryFilter {
            statuses: StatusSet::only(InquiryStatus::Queued),
            departments: DepartmentFilter::only(DepartmentId::new("dep2").unwrap()),
            reservation: ReservationFilter::AvailableTo(UserId::new("agent1").unwrap()),
        },
        InquiryFilter {
            statuses: StatusSet::only(InquiryStatus::Open),
            departments: DepartmentFilter::only(DepartmentId::new("nowhere").unwrap()),
            reservation: ReservationFilter::Any,
        },
    ];
    let mut queries = Vec::new();
    for (f, filter) in filters.iter().enumerate() {
        for (s, field) in SortField::ALL.into_iter().enumerate() {
            for direction in [Direction::Ascending, Direction::Descending] {
                for (offset, limit) in [(0, 10), (7, 25), (60, 50), (1_000, 10), ((f + s) * 3, 0), (0, 1_000)] {
                    queries.push(InquiryQuery {
                        filter: filter.clone(),
                        sort: InquirySort { field, direction },
                        offset,
                        limit,
                    });
                }
            }
        }
    }
    queries
}

fn assert_listings_match<S: Store>(store: &S, model: &HashMap<InquiryId, Inquiry>) {
    for query in sample_queries() {
        let want = query.reference_page(model.values());
        let got = store.list_inquiries(&query).expect("list");
        assert_eq!(got.total, want.total, "total for {query:?}");
        let got_ids: Vec<&InquiryId> = got.items.iter().map(|i| &i.id).collect();
        let want_ids: Vec<&InquiryId> = want.items.iter().map(|i| &i.id).collect();
        assert_eq!(got_ids, want_ids, "page for {query:?}");
        assert_eq!(got.items, want.items, "records for {query:?}");
    }
}
