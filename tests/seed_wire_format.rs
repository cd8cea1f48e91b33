//! The example responses of Rocket.Chat's inquiries API (`shared/seed/inquiries-api.txt`) parse
//! into our types and serialise back unchanged: field names, optional fields, timestamps.

use lobby::{Inquiry, InquiryStatus};
use serde_json::Value;

/// `inquiries.take`'s example inquiry.
const TAKE_EXAMPLE: &str = r#"{"_id": "wbKmn6pAZ8jyJuANG","rid": "S4wwL9WNY98uoHgJg","message": "test","name": "teste","ts": "2019-06-10T23:09:06.482Z","agents": ["hjwGZafNqExtFNmN7","26KdXgrQXhddy2MfQ"],"status": "open","v": {"_id": "2iZSexGXjW7EJnRwM","username": "guest-3","token": "RtQzkfQYKG4WpNMEW","status": "online"},"t": "l","_updatedAt": "2019-06-10T23:09:07.480Z"}"#;

/// `inquiries.getOne`'s example inquiry.
const GET_ONE_EXAMPLE: &str = r#"{"_id": "EMXtMA7mPPNkQtWWq","rid": "MA6HRhkEdRGATfEbh","name": "inquiry test","ts": "2019-12-13T18:54:25.352Z","message": "","status": "queued","v": {"_id": "rLitbjv7e9WyLBCR4","username": "guest-14","token": "btzu0qdm0sjsn7aqm78kzr","status": "offline"},"t": "l","_updatedAt": "2019-12-13T19:33:13.255Z"}"#;

fn round_trip(text: &str) -> Inquiry {
    let original: Value = serde_json::from_str(text).unwrap();
    let inquiry: Inquiry = serde_json::from_str(text).expect("the seed example parses");
    let again = serde_json::to_value(&inquiry).unwrap();
    assert_eq!(again, original, "serialising gives back the seed's JSON");
    inquiry
}

#[test]
fn take_example_round_trips() {
    let inquiry = round_trip(TAKE_EXAMPLE);
    assert_eq!(inquiry.status, InquiryStatus::Open);
    assert_eq!(inquiry.agents.as_ref().map(Vec::len), Some(2));
    assert_eq!(inquiry.ts.to_string(), "2019-06-10T23:09:06.482Z");
}

#[test]
fn get_one_example_round_trips() {
    let inquiry = round_trip(GET_ONE_EXAMPLE);
    assert_eq!((inquiry.status, inquiry.message.as_str()), (InquiryStatus::Queued, ""));
    assert_eq!(inquiry.visitor.username, "guest-14");
}

#[test]
fn list_example_items_use_the_same_field_names() {
    // The list example's items are a projection of the inquiry: every field they carry has the
    // same name and format in our full inquiry.
    let item: Value = serde_json::from_str(
        r#"{"_id": "GpxfRo8TaPHfsnnC5","rid": "EbQjtCosHJWLQmQYT","name": "Marcos Defendi","ts": "2019-06-11T19:01:57.424Z","department": "jHFgdJyJWstB9M2ik","status": "open"}"#,
    )
    .unwrap();
    let mut full: Value = serde_json::from_str(GET_ONE_EXAMPLE).unwrap();
    for field in ["_id", "rid", "name", "ts", "department", "status"] {
        full[field] = item[field].clone();
    }
    let inquiry: Inquiry = serde_json::from_value(full).unwrap();
    let ours = serde_json::to_value(&inquiry).unwrap();
    for field in ["_id", "rid", "name", "ts", "department", "status"] {
        assert_eq!(ours[field], item[field], "{field}");
    }
}

#[test]
fn malformed_inquiries_are_errors_not_panics() {
    for bad in [
        r#"{"_id": "", "rid": "r", "name": "n", "ts": "2019-06-10T23:09:06.482Z", "status": "open", "v": {"_id": "v", "username": "u", "token": "t"}, "_updatedAt": "2019-06-10T23:09:06.482Z"}"#,
        r#"{"_id": "i", "rid": "r", "name": "n", "ts": "June 10", "status": "open", "v": {"_id": "v", "username": "u", "token": "t"}, "_updatedAt": "2019-06-10T23:09:06.482Z"}"#,
        r#"{"_id": "i", "rid": "r", "name": "n", "ts": "2019-06-10T23:09:06.482Z", "status": "ready", "v": {"_id": "v", "username": "u", "token": "t"}, "_updatedAt": "2019-06-10T23:09:06.482Z"}"#,
        r#"{"_id": "i", "rid": "r", "name": "n", "ts": "2019-06-10T23:09:06.482Z", "status": "open", "v": {"_id": "v", "username": "u", "token": "t"}, "priorityWeight": 7, "_updatedAt": "2019-06-10T23:09:06.482Z"}"#,
    ] {
        assert!(serde_json::from_str::<Inquiry>(bad).is_err(), "{bad}");
    }
}
