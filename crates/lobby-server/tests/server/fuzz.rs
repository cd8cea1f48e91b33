//! Fuzzing on the stable toolchain: seeded random requests (dictionary-guided query strings, JSON
//! bodies built from each route's schema and then mutated, random JSON, random and mutated
//! bytes, odd headers, methods and paths) driven through the real router in-process, plus the
//! parsing functions of `lobby_server::input` called directly.
//!
//! Properties, for every input: no panic, no 5xx, every answer is JSON in Rocket.Chat's
//! envelopes (see `crate::helpers::raw::check_reply`), a rejected request (4xx) leaves the store exactly as it
//! was (every record with its version, and the event log), reads never write, and the answers
//! that are fully determined by the request (404, 405, 401, 413) are those.
//!
//! A short run is part of `cargo test`. A longer one:
//!
//! ```text
//! LOBBY_FUZZ_CASES=100000 LOBBY_FUZZ_SEED=random cargo test -p lobby-server --test server --release -- --nocapture fuzz::
//! LOBBY_FUZZ_SEED=1234 cargo test -p lobby-server --test server fuzz:: # replay one run
//! ```
//!
//! On a failure the harness prints the seed, re-runs the input on a fresh fixture, shrinks it,
//! and prints it as a corpus entry to save under `tests/fuzz-corpus/`, where
//! `corpus_entries_replay_cleanly` replays it on every run.

use std::time::Instant;

use lobby_core::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use lobby_core::{Direction, SortField};
use lobby_server::input::{
    check_object, optional, parse_sort, required, Additional, Field, Kind, Presence, QueryParams,
};
use lobby_server::routes::{methods_of, Access, ROUTES};
use lobby_server::stores::StoreSpec;
use lobby_server::BODY_LIMIT;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::helpers::corpus::CorpusEntry;
use crate::helpers::fixture::Fixture;
use crate::helpers::raw::{check_reply_for, content_of, InProcess, RawReply, RawRequest};

/// Router cases per `cargo test` run; `LOBBY_FUZZ_CASES` overrides.
const DEFAULT_CASES: usize = 2000;
/// Parser cases per `cargo test` run (they are much cheaper); scaled by `LOBBY_FUZZ_CASES` too.
const DEFAULT_PARSER_CASES: usize = 10_000;
/// A fresh fixture every so many cases: keeps the store small (snapshots stay cheap) and lets
/// inputs meet the seeded state, not only what earlier successes made of it.
const FIXTURE_LIFETIME: usize = 300;

fn cases() -> usize {
    std::env::var("LOBBY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// A fixed seed by default, so that `cargo test` (and CI) is reproducible; longer runs pass
/// `LOBBY_FUZZ_SEED=random` (or a number) to explore.
fn seed() -> u64 {
    const DEFAULT_SEED: u64 = 0x10bb_7e57;
    match std::env::var("LOBBY_FUZZ_SEED").as_deref() {
        Ok("random") => rand::random(),
        Ok(text) => text.parse().expect("LOBBY_FUZZ_SEED must be a number or `random`"),
        Err(_) => DEFAULT_SEED,
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

struct Gen {
    rng: StdRng,
    dictionary: Vec<String>,
}

/// Field names the schemas know, and a few that mean something elsewhere.
const FIELD_NAMES: &[&str] = &[
    "inquiryId",
    "userId",
    "roomId",
    "departmentId",
    "username",
    "user",
    "email",
    "password",
    "name",
    "roles",
    "active",
    "department",
    "agents",
    "agentId",
    "status",
    "visitor",
    "token",
    "rid",
    "comment",
    "tags",
    "enabled",
    "showOnRegistration",
    "showOnOfflineForm",
    "maxNumberSimultaneousChat",
    "fallbackForwardDepartment",
    "description",
    "phone",
    "customFields",
    "digest",
    "algorithm",
    "hashed",
    "count",
    "order",
    "__proto__",
    "constructor",
    "$where",
    "$ne",
    "",
    "_id",
];

const NASTY_STRINGS: &[&str] = &[
    "",
    " ",
    "\t",
    "\0",
    "a\0b",
    "\u{7f}",
    "\u{1b}[31m",
    "\r\n",
    "null",
    "undefined",
    "true",
    "0",
    "-1",
    "1e999",
    "NaN",
    "[object Object]",
    "{\"$ne\":null}",
    "../../etc/passwd",
    "%00",
    "%",
    "a@b",
    "@",
    "🙂",
    "\u{202e}rtl",
    "e\u{301}",
    "\u{feff}",
    "\u{fffd}",
    "ｓａｌｅｓ",
    "İ",
    "ß",
    "<script>",
    "'; DROP TABLE inquiries; --",
    "admin ",
    " admin",
    "ADMIN",
];

const COUNT_TEXTS: &[&str] = &[
    "0",
    "1",
    "7",
    "50",
    "100",
    "101",
    "1000",
    "-0",
    "-1",
    "1.5",
    "5.0",
    "1e2",
    "1E2",
    "+3",
    " 7",
    "7 ",
    "0x10",
    "010",
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e400",
    "-1e400",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999",
    "9007199254740993",
    "",
    " ",
    "abc",
    "1,2",
    "1_000",
    "١",
    "1\0",
];

const SORT_VALUES: &[&str] =
    &["1", "-1", "0", "2", "-2", "1.0", "-1.0", "1e0", "\"1\"", "true", "null", "[1]", "{}", "1.5"];

impl Gen {
    fn new(seed: u64, dictionary: Vec<String>) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), dictionary }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn word(&mut self) -> String {
        let i = self.below(self.dictionary.len());
        self.dictionary[i].clone()
    }

    /// A string: a dictionary word, a nasty one, random characters, a long run, or a mix.
    fn string(&mut self) -> String {
        match self.below(10) {
            0..=3 => self.word(),
            4 | 5 => (*self.pick(NASTY_STRINGS)).to_owned(),
            6 => {
                let len = self.below(24);
                (0..len).map(|_| self.char()).collect()
            }
            7 => {
                let len = *self.pick(&[127usize, 128, 129, 255, 256, 257, 1024, 5000]);
                let c = if self.chance(0.5) { 'x' } else { self.char() };
                std::iter::repeat_n(c, len).collect()
            }
            8 => format!("{}{}", self.word(), self.pick(NASTY_STRINGS)),
            _ => {
                let mut word = self.word();
                if !word.is_empty() && self.chance(0.5) {
                    word = word.to_uppercase();
                } else {
                    word.push(self.char());
                }
                word
            }
        }
    }

    fn char(&mut self) -> char {
        match self.below(6) {
            0 | 1 => self.rng.gen_range(b' '..=b'~') as char,
            2 => self.rng.gen_range(0u8..0x20) as char,
            3 => *self.pick(&['é', 'ß', 'İ', 'ﬁ', '\u{301}', '\u{200b}', '\u{feff}', '\u{202e}', '\u{fffd}', '\u{7f}']),
            4 => *self.pick(&['🙂', '𝔘', '中', 'ا', '\u{10ffff}', '\u{e000}']),
            _ => char::from_u32(self.rng.gen_range(0..0x11_0000)).unwrap_or('?'),
        }
    }

    fn number(&mut self) -> Value {
        match self.below(12) {
            0 => json!(0),
            1 => json!(1),
            2 => json!(-1),
            3 => json!(1.5),
            4 => json!(3.0),
            5 => json!(u64::MAX),
            6 => json!(i64::MIN),
            7 => json!(1e300),
            8 => json!(-0.0),
            9 => json!(9_007_199_254_740_993u64),
            10 => json!(4_294_967_296u64),
            _ => json!(self.rng.gen_range(-1000i64..1000)),
        }
    }

    fn any_json(&mut self, depth: usize) -> Value {
        let leaf = depth == 0 || self.chance(0.6);
        match (leaf, self.below(6)) {
            (true, 0) => Value::Null,
            (true, 1) => Value::Bool(self.chance(0.5)),
            (true, 2) => self.number(),
            (true, _) => Value::String(self.string()),
            (false, 0..=2) => {
                let len = self.below(4);
                Value::Array((0..len).map(|_| self.any_json(depth - 1)).collect())
            }
            (false, _) => {
                let len = self.below(4);
                let mut map = Map::new();
                for _ in 0..len {
                    let key = if self.chance(0.7) { (*self.pick(FIELD_NAMES)).to_owned() } else { self.string() };
                    map.insert(key, self.any_json(depth - 1));
                }
                Value::Object(map)
            }
        }
    }

    fn user_ref(&mut self) -> String {
        let name = *self.pick(&["admin_id", "alice_id", "bob_id", "plain_id"]);
        format!("{{{{{name}}}}}")
    }

    fn inquiry_ref(&mut self) -> String {
        let stem = *self.pick(&["open", "sales", "taken", "closed"]);
        format!("{{{{{stem}_inquiry}}}}")
    }

    fn rid_ref(&mut self) -> String {
        let stem = *self.pick(&["open", "sales", "taken", "closed"]);
        format!("{{{{{stem}_rid}}}}")
    }

    fn department_ref(&mut self) -> String {
        match self.below(5) {
            0 => "{{sales_id}}".into(),
            1 => "{{closed_department_id}}".into(),
            2 => "Sales".into(),
            3 => "Closed".into(),
            _ => self.string(),
        }
    }

    /// A value for a field: mostly the right kind (a fixture reference where one fits), else
    /// anything.
    fn maybe(&mut self, good: Value) -> Value {
        if self.chance(0.85) {
            good
        } else {
            self.any_json(2)
        }
    }

    /// Puts `value` (sometimes replaced by anything) under `name`; an optional field only half
    /// of the time.
    fn put(&mut self, body: &mut Map<String, Value>, name: &str, optional: bool, value: Value) {
        if !optional || self.chance(0.5) {
            let value = self.maybe(value);
            body.insert(name.to_owned(), value);
        }
    }

    /// A body shaped like what `path` expects (placeholders resolved later), before mutation.
    fn template(&mut self, path: &str) -> Value {
        let mut body = Map::new();
        let b = &mut body;
        match path.rsplit('/').next().unwrap_or("") {
            "login" => {
                let field = *self.pick(&["user", "username", "email"]);
                let user = *self.pick(&["admin", "admin@example.com", "alice", "nobody"]);
                self.put(b, field, false, json!(user));
                let password = match self.below(4) {
                    0 => json!(crate::helpers::PASSWORD),
                    1 => json!("wrong"),
                    2 => {
                        json!({"digest": lobby_server::auth::password_digest(crate::helpers::PASSWORD), "algorithm": "sha-256"})
                    }
                    _ => json!({"hashed": self.string()}),
                };
                self.put(b, "password", false, password);
            }
            "users.create" => {
                let n = self.below(1000);
                self.put(b, "email", false, json!(format!("u{n}@example.com")));
                let name = self.string();
                self.put(b, "name", false, json!(name));
                self.put(b, "password", false, json!("pw"));
                self.put(b, "username", false, json!(format!("u{n}")));
                let roles: Vec<Value> = (0..self.below(3))
                    .map(|_| json!(*self.pick(&["user", "livechat-agent", "livechat-manager", "admin", "bogus role"])))
                    .collect();
                self.put(b, "roles", true, json!(roles));
                let active = self.chance(0.8);
                self.put(b, "active", true, json!(active));
                self.put(b, "verified", true, json!(true));
            }
            "inquiries.take" => {
                let inquiry = self.inquiry_ref();
                self.put(b, "inquiryId", false, json!(inquiry));
                let user = self.user_ref();
                self.put(b, "userId", true, json!(user));
            }
            "inquiries.returnAsInquiry" => {
                let rid = self.rid_ref();
                self.put(b, "roomId", false, json!(rid));
                let department = self.department_ref();
                self.put(b, "departmentId", true, json!(department));
            }
            "agent" => {
                let username = *self.pick(&["alice", "plain", "bob", "nobody"]);
                self.put(b, "username", false, json!(username));
            }
            "department" | "{_id}" => {
                let mut department = Map::new();
                department.insert("name".into(), json!(format!("Dept {}", self.below(50))));
                department.insert("email".into(), json!("d@example.com"));
                for flag in ["enabled", "showOnRegistration", "showOnOfflineForm"] {
                    department.insert(flag.into(), json!(self.chance(0.7)));
                }
                if self.chance(0.3) {
                    department.insert("maxNumberSimultaneousChat".into(), self.number());
                }
                if self.chance(0.3) {
                    department.insert("fallbackForwardDepartment".into(), json!(self.department_ref()));
                }
                for timer in ["autoTransferTimeoutInSeconds", "maxQueueWaitInSeconds"] {
                    if self.chance(0.3) {
                        department.insert(timer.into(), self.number());
                    }
                }
                if self.chance(0.4) {
                    let targets: Vec<Value> = (0..self.below(4))
                        .map(|_| {
                            let expression = self.expression();
                            let mut target = json!({"expression": expression});
                            if self.chance(0.5) {
                                target["timeout"] = self.number();
                            }
                            if self.chance(0.3) {
                                target["priorityBoost"] = self.number();
                            }
                            target
                        })
                        .collect();
                    department.insert("routingRules".into(), json!(targets));
                }
                self.put(b, "department", false, Value::Object(department));
                let agents: Vec<Value> = (0..self.below(4)).map(|_| json!({"agentId": self.user_ref()})).collect();
                self.put(b, "agents", true, json!(agents));
            }
            "inquiries.setAttributes" => {
                let inquiry = self.inquiry_ref();
                self.put(b, "inquiryId", false, json!(inquiry));
                let attributes = self.any_json(3);
                self.put(b, "attributes", false, attributes);
            }
            "agent.attributes" => {
                let agent = self.user_ref();
                self.put(b, "agentId", false, json!(agent));
                let attributes = self.any_json(3);
                self.put(b, "attributes", false, attributes);
            }
            "agent.status" => {
                let status = *self.pick(&["available", "not-available"]);
                self.put(b, "status", true, json!(status));
                let agent = self.user_ref();
                self.put(b, "agentId", true, json!(agent));
            }
            "visitor" => {
                let mut visitor = Map::new();
                let token = if self.chance(0.5) {
                    self.pick(&["tok-open", "tok-new", "tok-taken"]).to_string()
                } else {
                    self.string()
                };
                visitor.insert("token".into(), json!(token));
                for field in ["name", "email", "department"] {
                    if self.chance(0.4) {
                        let value = if field == "department" { self.department_ref() } else { self.string() };
                        visitor.insert(field.into(), json!(value));
                    }
                }
                self.put(b, "visitor", false, Value::Object(visitor));
            }
            "room.close" => {
                let rid = self.rid_ref();
                self.put(b, "rid", false, json!(rid));
                let token = *self.pick(&["tok-open", "tok-taken", "tok-closed", "x"]);
                self.put(b, "token", false, json!(token));
            }
            "room.forward" => {
                let rid = self.rid_ref();
                self.put(b, "roomId", false, json!(rid));
                let user = self.user_ref();
                self.put(b, "userId", true, json!(user));
                let department = self.department_ref();
                self.put(b, "departmentId", true, json!(department));
                let comment = self.string();
                self.put(b, "comment", true, json!(comment));
                self.put(b, "clientAction", true, json!(true));
            }
            "message" => {
                let token = *self.pick(&["tok-open", "tok-taken", "tok-closed", "tok-sales", "x"]);
                self.put(b, "token", false, json!(token));
                let rid = self.rid_ref();
                self.put(b, "rid", false, json!(rid));
                let msg = self.string();
                self.put(b, "msg", false, json!(msg));
            }
            "chat.sendMessage" => {
                let rid = self.rid_ref();
                let msg = self.string();
                self.put(b, "message", false, json!({ "rid": rid, "msg": msg }));
            }
            "room.closeByUser" => {
                let rid = self.rid_ref();
                self.put(b, "rid", false, json!(rid));
                let comment = self.string();
                self.put(b, "comment", true, json!(comment));
                let tag = self.string();
                self.put(b, "tags", true, json!([tag]));
                self.put(b, "forceClose", true, json!(true));
            }
            _ => {
                for _ in 0..self.below(3) {
                    let key = (*self.pick(FIELD_NAMES)).to_owned();
                    let value = self.any_json(2);
                    b.insert(key, value);
                }
            }
        }
        Value::Object(body)
    }

    /// Changes one random node of `value`.
    fn mutate_json(&mut self, value: &mut Value) {
        // Walk down a random path, stopping at random.
        if self.chance(0.6) {
            match value {
                Value::Object(map) if !map.is_empty() => {
                    let key = map.keys().nth(self.rng.gen_range(0..map.len())).unwrap().clone();
                    return self.mutate_json(map.get_mut(&key).unwrap());
                }
                Value::Array(items) if !items.is_empty() => {
                    let i = self.rng.gen_range(0..items.len());
                    return self.mutate_json(&mut items[i]);
                }
                _ => {}
            }
        }
        let node = value;
        match self.below(10) {
            0 => *node = self.any_json(2),
            1 => *node = Value::Null,
            2 => {
                if let Value::Object(map) = node {
                    if let Some(key) = map.keys().next().cloned() {
                        map.remove(&key);
                    }
                } else if let Value::Array(items) = node {
                    items.pop();
                }
            }
            3 => {
                if let Value::Object(map) = node {
                    let key = if self.chance(0.7) { (*self.pick(FIELD_NAMES)).to_owned() } else { self.string() };
                    let value = self.any_json(1);
                    map.insert(key, value);
                }
            }
            4 => *node = Value::String(node.to_string()),
            5 => *node = Value::Array(vec![node.take()]),
            6 => *node = json!({ "$ne": node.take() }),
            7 => *node = self.number(),
            8 => *node = Value::String(self.string()),
            _ => {
                if let Value::Array(items) = node {
                    if let Some(first) = items.first().cloned() {
                        items.push(first);
                    }
                } else if let Value::String(text) = node {
                    let copy = text.clone();
                    text.push_str(&copy.repeat(self.below(50)));
                }
            }
        }
    }

    fn mutate_bytes(&mut self, bytes: &mut Vec<u8>) {
        let at = |g: &mut Self, len: usize| if len == 0 { 0 } else { g.rng.gen_range(0..=len) };
        match self.below(9) {
            0 if !bytes.is_empty() => {
                let i = self.rng.gen_range(0..bytes.len());
                bytes[i] ^= 1 << self.below(8);
            }
            1 => {
                let i = at(self, bytes.len());
                const BAD: &[&[u8]] = &[
                    b"\xff",
                    b"\xc3\x28",
                    b"\xed\xa0\x80",
                    b"\xc0\xaf",
                    b"\xf4\x90\x80\x80",
                    b"\x80",
                    b"\xe2\x82",
                    b"\0",
                ];
                let bad = *self.pick(BAD);
                bytes.splice(i..i, bad.iter().copied());
            }
            2 => {
                let i = at(self, bytes.len());
                bytes.truncate(i);
            }
            3 => {
                let mut with_bom = vec![0xef, 0xbb, 0xbf];
                with_bom.append(bytes);
                *bytes = with_bom;
            }
            4 => {
                bytes.extend_from_slice(self.pick::<&[u8]>(&[b"garbage", b"}", b",", b"\0", b" {}", b"\n\n{\"a\":1}"]))
            }
            5 => {
                let i = at(self, bytes.len());
                let snippet: &[u8] =
                    self.pick::<&[u8]>(&[b"\\ud800", b"\\u0000", b"\\", b"\"", b"1e999", b"-", b"NaN"]);
                bytes.splice(i..i, snippet.iter().copied());
            }
            6 if !bytes.is_empty() => {
                let start = self.rng.gen_range(0..bytes.len());
                let end = self.rng.gen_range(start..=bytes.len());
                bytes.drain(start..end);
            }
            7 => {
                let len = self.below(64);
                bytes.extend((0..len).map(|_| self.rng.gen::<u8>()));
            }
            _ => {
                if let Some(i) = bytes.iter().position(|&b| b == b'"') {
                    bytes[i] = b'\'';
                }
            }
        }
    }

    /// A whole body for `path`, as bytes.
    fn body(&mut self, path: &str) -> Vec<u8> {
        match self.below(20) {
            0..=10 => {
                let mut value = self.template(path);
                for _ in 0..self.below(4) {
                    self.mutate_json(&mut value);
                }
                value.to_string().into_bytes()
            }
            11 | 12 => self.any_json(3).to_string().into_bytes(),
            13 | 14 => {
                let mut bytes = self.template(path).to_string().into_bytes();
                for _ in 0..=self.below(3) {
                    self.mutate_bytes(&mut bytes);
                }
                bytes
            }
            15 => Vec::new(),
            16 => {
                let len = self.below(200);
                (0..len).map(|_| self.rng.gen::<u8>()).collect()
            }
            17 => {
                let depth = *self.pick(&[100usize, 127, 128, 129, 1000, 20_000]);
                let (open, close) = if self.chance(0.5) { ("[", "]") } else { ("{\"a\":", "}") };
                format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes()
            }
            18 => {
                // Around the body limit.
                let size = *self.pick(&[BODY_LIMIT - 20, BODY_LIMIT + 1, BODY_LIMIT * 2]);
                let field = *self.pick(FIELD_NAMES);
                let mut text = json!({ field: "x".repeat(size) }).to_string().into_bytes();
                text.truncate(size.max(16));
                if text.last() != Some(&b'}') && self.chance(0.5) {
                    text.extend_from_slice(b"\"}");
                }
                text
            }
            _ => {
                let text = *self.pick(&[
                    "null",
                    "true",
                    "1",
                    "\"inquiryId\"",
                    "[]",
                    "{}",
                    " \n\t ",
                    "{\"inquiryId\":\"a\",\"inquiryId\":{\"b\":1}}",
                    "{\"inquiryId\":\"\\ud800\"}",
                    "{\"inquiryId\":\"a\"}{\"inquiryId\":\"b\"}",
                    "{'inquiryId':'a'}",
                    "{\"inquiryId\":\"a\",}",
                    "inquiryId=a",
                    "{\"visitor\":{\"token\":\"t\",\"customFields\":[[[[[[[[]]]]]]]]}}",
                ]);
                text.as_bytes().to_vec()
            }
        }
    }

    fn param_value(&mut self, name: &str) -> String {
        match name {
            "offset" | "count" if self.chance(0.8) => (*self.pick(COUNT_TEXTS)).to_owned(),
            "sort" if self.chance(0.8) => self.sort_text(),
            "status" if self.chance(0.7) => self.pick(&["open", "queued", "taken", "closed", "Open", ""]).to_string(),
            "department" if self.chance(0.7) => self.department_ref(),
            "roomId" | "rid" if self.chance(0.7) => self.rid_ref(),
            "inquiryId" if self.chance(0.7) => self.inquiry_ref(),
            "agentId" if self.chance(0.7) => self.user_ref(),
            "token" if self.chance(0.7) => self.pick(&["tok-open", "tok-new", "tok-closed", "nobody"]).to_string(),
            _ => self.string(),
        }
    }

    /// A routing expression: pieces of the grammar strung together, so that most are nearly
    /// right and some are right (the parser's own fuzz tests cover raw bytes).
    fn expression(&mut self) -> String {
        const PIECES: &[&str] = &[
            "level",
            "task.topic",
            "worker.skills",
            "skills",
            ">=",
            "==",
            "!=",
            "<",
            "HAS",
            "IN",
            "NOT IN",
            "CONTAINS",
            "AND",
            "OR",
            "NOT",
            "(",
            ")",
            "3",
            "-1.5e3",
            "'billing'",
            "\"es\"",
            "[",
            "]",
            ",",
            "true",
            "null",
            "\\",
            "'",
            "é",
            "..",
            "1 == 1",
        ];
        if self.chance(0.1) {
            return self.string();
        }
        (0..self.below(8)).map(|_| *self.pick(PIECES)).collect::<Vec<_>>().join(" ")
    }

    fn sort_text(&mut self) -> String {
        if self.chance(0.15) {
            return self.string();
        }
        let names: Vec<&str> = SortField::ALL.iter().map(|f| f.wire_name()).collect();
        let entries: Vec<String> = (0..self.pick(&[0usize, 1, 1, 1, 2, 3]).to_owned())
            .map(|_| {
                let key = if self.chance(0.8) { self.pick(&names).to_string() } else { self.string() };
                format!("{}:{}", Value::String(key), self.pick(SORT_VALUES))
            })
            .collect();
        let mut text = format!("{{{}}}", entries.join(","));
        if self.chance(0.1) {
            let mut bytes = text.into_bytes();
            self.mutate_bytes(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    }

    /// Percent-encodes `text` for a query string, sometimes sloppily.
    fn encode(&mut self, text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            let safe = c.is_ascii_alphanumeric() || "-._~".contains(c);
            if safe && !self.chance(0.05) {
                out.push(c);
            } else if c == ' ' && self.chance(0.5) {
                out.push('+');
            } else if self.chance(0.01) {
                out.push(c); // raw: often not representable, counted as such
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    if self.chance(0.5) {
                        out.push_str(&format!("%{b:02X}"));
                    } else {
                        out.push_str(&format!("%{b:02x}"));
                    }
                }
            }
        }
        if self.chance(0.03) {
            let junk = *self.pick(&["%", "%4", "%zz", "%ff", "%c3%28", "%00", "%ed%a0%80", "%%", "+", "%2B"]);
            let i = self.rng.gen_range(0..=out.len());
            if out.is_char_boundary(i) {
                out.insert_str(i, junk);
            }
        }
        out
    }

    fn query(&mut self, path: &str) -> String {
        let known: &[&str] = match path.rsplit('/').next().unwrap_or("") {
            "inquiries.list" => &["offset", "count", "sort", "department", "status"],
            "inquiries.queuedForUser" => &["offset", "count", "sort", "department"],
            "inquiries.getOne" | "inquiries.position" => &["roomId"],
            "inquiries.explain" => &["inquiryId"],
            "agent.attributes" => &["agentId"],
            "agent" | "department" => &["offset", "count"],
            "room" => &["token", "rid"],
            _ => &[],
        };
        let mut pairs = Vec::new();
        for _ in 0..self.below(5) {
            let name = if !known.is_empty() && self.chance(0.8) {
                (*self.pick(known)).to_owned()
            } else {
                match self.below(4) {
                    0 => (*self.pick(&["fields", "query", "sort[ts]", "count[]", "Count", "OFFSET", ""])).to_owned(),
                    1 => (*self.pick(FIELD_NAMES)).to_owned(),
                    _ => self.string(),
                }
            };
            let value = self.param_value(&name);
            let pair = match self.below(20) {
                0 => self.encode(&name),
                1 => format!("{}={}={}", self.encode(&name), self.encode(&value), self.encode(&value)),
                _ => format!("{}={}", self.encode(&name), self.encode(&value)),
            };
            pairs.push(pair);
        }
        // Required parameters are usually there.
        if known.contains(&"roomId") && self.chance(0.7) {
            let value = self.param_value("roomId");
            pairs.push(format!("roomId={}", self.encode(&value)));
        }
        if known.contains(&"token") && self.chance(0.7) {
            let value = self.param_value("token");
            pairs.push(format!("token={}", self.encode(&value)));
        }
        let separator = *self.pick(&["&", "&", "&", "&", "&&", ";"]);
        let mut query = pairs.join(separator);
        if self.chance(0.05) {
            query.insert(0, '&');
        }
        query
    }

    fn auth(&mut self, request: RawRequest, fixture: &Fixture) -> (RawRequest, AuthMode) {
        let login = |name: &str| fixture.login(name).clone();
        let mode = match self.below(20) {
            0..=7 => AuthMode::Valid("admin"),
            8..=10 => AuthMode::Valid("alice"),
            11 => AuthMode::Valid("plain"),
            12 => AuthMode::Valid("bob"),
            13 | 14 => AuthMode::None,
            15 => AuthMode::Forged,
            16 => AuthMode::WrongToken,
            17 => AuthMode::OnlyOne,
            18 => AuthMode::Garbage,
            _ => AuthMode::Padded,
        };
        let request = match mode {
            AuthMode::Valid(name) => request.auth(&login(name)),
            AuthMode::None => request,
            AuthMode::Forged => {
                request.header("X-User-Id", login("alice").user_id).header("X-Auth-Token", login("admin").token)
            }
            AuthMode::WrongToken => {
                let mut token = login("admin").token;
                token.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
                request.header("X-User-Id", login("admin").user_id).header("X-Auth-Token", token)
            }
            AuthMode::OnlyOne => {
                if self.chance(0.5) {
                    request.header("X-User-Id", login("admin").user_id)
                } else {
                    request.header("X-Auth-Token", login("admin").token)
                }
            }
            AuthMode::Garbage => {
                let a: Vec<u8> = (0..self.below(40)).map(|_| self.rng.gen::<u8>()).collect();
                let b: Vec<u8> = (0..self.below(600)).map(|_| self.rng.gen::<u8>()).collect();
                request.header("X-User-Id", a).header("X-Auth-Token", b)
            }
            AuthMode::Padded => request
                .header("X-User-Id", format!(" {} ", login("admin").user_id))
                .header("X-Auth-Token", format!("{}\t", login("admin").token)),
        };
        (request, mode)
    }

    fn request(&mut self, fixture: &Fixture) -> (RawRequest, AuthMode) {
        let route = *self.pick(ROUTES);
        let route_method = route.method;
        // A path parameter names a fixture department (or something that is not one).
        let department = self.department_ref();
        let route_path = &route.path.replace("{_id}", &department);
        let path = if self.chance(0.93) {
            route_path.to_owned()
        } else {
            match self.below(8) {
                0 => format!("{route_path}/"),
                1 => route_path.to_uppercase(),
                2 => route_path.replacen("/api/v1", "/api/v2", 1),
                3 => format!("/{route_path}"),
                4 => route_path.replace('.', "%2E"),
                5 => format!("{route_path}/.."),
                6 => "/".to_owned(),
                _ => {
                    let text = self.string();
                    format!("/api/v1/{}", self.encode(&text))
                }
            }
        };
        let method = if self.chance(0.9) {
            route_method.to_owned()
        } else {
            (*self.pick(&["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW", "get"]))
                .to_owned()
        };
        let query = if self.chance(0.85) && route_method == "GET" || self.chance(0.1) {
            self.query(route_path)
        } else {
            String::new()
        };
        let target = if query.is_empty() && self.chance(0.95) { path } else { format!("{path}?{query}") };
        let mut request = RawRequest::new(&method, fixture.expand(&target));
        if route_method == "POST" || self.chance(0.05) {
            let body = self.body(route_path);
            request.body = fixture.expand(&String::from_utf8_lossy(&body)).into_bytes();
            if String::from_utf8(body.clone()).is_err() {
                request.body = body; // keep invalid UTF-8 as it is
            }
            let content_type: Option<&[u8]> = match self.below(20) {
                0..=13 => Some(b"application/json"),
                14 => Some(b"application/json; charset=utf-8"),
                15 => Some(*self.pick::<&[u8]>(&[
                    b"text/plain",
                    b"application/x-www-form-urlencoded",
                    b"multipart/form-data",
                ])),
                16 => Some(*self.pick::<&[u8]>(&[
                    b"APPLICATION/JSON",
                    b"application/vnd.api+json",
                    b"application/jsonx",
                    b"",
                ])),
                17 => Some(b"application/json\xff"),
                _ => None,
            };
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
        }
        if self.chance(0.05) {
            let name = *self.pick(&[
                "Accept",
                "X-Forwarded-For",
                "Cookie",
                "X-User-Id",
                "Content-Length",
                "Transfer-Encoding",
            ]);
            let value: Vec<u8> = (0..self.below(30)).map(|_| self.rng.gen_range(0x20u8..=0xff)).collect();
            request = request.header(name, value);
        }
        self.auth(request, fixture)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMode {
    Valid(&'static str),
    None,
    /// alice's id with admin's token.
    Forged,
    WrongToken,
    OnlyOne,
    Garbage,
    /// admin's, with whitespace around the values (allowed: header values are trimmed).
    Padded,
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// The answer to `request` when the request alone decides it.
fn determined_status(request: &RawRequest, mode: AuthMode) -> Option<u16> {
    let path = request.path();
    let methods = methods_of(path);
    if methods.is_empty() {
        return Some(404);
    }
    let method = request.method.as_str();
    let head_of_get = method == "HEAD" && methods.contains(&"GET");
    if !methods.contains(&method) && !head_of_get {
        return Some(405);
    }
    // An extra header of the fuzzer's (a second X-User-Id, a mangled Content-Length) makes the
    // rest depend on more than the request line.
    let count = |name: &str| request.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count();
    if count("x-user-id") > 1 || count("content-length") > 0 || count("transfer-encoding") > 0 {
        return None;
    }
    let unauthenticated = matches!(
        mode,
        AuthMode::None | AuthMode::Forged | AuthMode::WrongToken | AuthMode::OnlyOne | AuthMode::Garbage
    );
    let needs_login = ROUTES.iter().any(|route| route.path == path && route.access == Access::SignedIn);
    if needs_login && unauthenticated {
        return Some(401);
    }
    if method == "POST" && request.body.len() > BODY_LIMIT {
        return Some(413);
    }
    None
}

/// Open bugs, reported and pinned by ignored tests (`bad_input.rs`, corpus entries with
/// `"ignore"`): the fuzzer counts inputs that hit one instead of stopping at the first. Add an
/// entry while a bug is open; delete it with the fix. Delete an
/// entry when its bug is fixed.
fn known_bug(_request: &RawRequest) -> Option<&'static str> {
    // None open. (Fixed: a department with an agent listed twice answered 500.)
    None
}

/// Routes whose success changes nothing: a GET is a read, except `livechat/room`, which opens
/// the visitor's room when there is none (as Rocket.Chat's does).
fn is_pure_read(request: &RawRequest) -> bool {
    matches!(request.method.as_str(), "GET" | "HEAD") && request.path() != "/api/v1/livechat/room"
}

/// What a failed case did wrong. The kind (its first word) is what shrinking preserves.
fn check_case(
    fixture: &Fixture,
    client: &InProcess,
    request: &RawRequest,
    mode: AuthMode,
    before: &crate::helpers::fixture::Snapshot,
) -> Result<Option<(RawReply, crate::helpers::fixture::Snapshot)>, String> {
    let reply = match client.send(request) {
        Ok(Some(reply)) => reply,
        Ok(None) => return Ok(None),
        Err(panic) => return Err(format!("panic: {panic}")),
    };
    check_reply_for(&request.method, content_of(request), &reply).map_err(|e| format!("envelope: {e}"))?;
    if let Some(expected) = determined_status(request, mode) {
        if reply.status != expected {
            return Err(format!("status: expected {expected}, got {}: {}", reply.status, reply.text()));
        }
    }
    if reply.status == 200 && request.method == "GET" {
        let body = reply.json();
        if let Some(items) = ["inquiries", "users", "departments"].iter().find_map(|k| body[*k].as_array()) {
            let count = body["count"].as_u64().unwrap_or(u64::MAX);
            if count != items.len() as u64 || items.len() > MAX_PAGE_SIZE || body["total"].as_u64().is_none() {
                return Err(format!("paging: count/total wrong: {}", reply.text()));
            }
        }
    }
    let after = fixture.snapshot();
    if (reply.status >= 400 || is_pure_read(request)) && after != *before {
        return Err(format!("store: {} answered {} but wrote: {}", request.method, reply.status, before.diff(&after)));
    }
    Ok(Some((reply, after)))
}

fn kind_of(failure: &str) -> &str {
    failure.split(':').next().unwrap_or(failure)
}

/// Runs `request` on a fresh fixture; `Some(failure)` if it fails there too.
fn fails_fresh(request_on: &dyn Fn(&Fixture) -> RawRequest, mode: AuthMode) -> Option<String> {
    let fixture = Fixture::new();
    let client = InProcess::new(&fixture.state);
    let before = fixture.snapshot();
    check_case(&fixture, &client, &request_on(&fixture), mode, &before).err()
}

/// Makes a failing request smaller while it fails the same way (on a fresh fixture each time).
/// Works on the abstract form (placeholders for ids), so that it replays on any fixture.
fn shrink(abstract_request: RawRequest, mode: AuthMode, kind: &str) -> RawRequest {
    let still_fails = |candidate: &RawRequest| {
        let on = |f: &Fixture| concretize(candidate, f);
        fails_fresh(&on, mode).is_some_and(|failure| kind_of(&failure) == kind)
    };
    let mut best = abstract_request;
    let mut attempts = 0;
    'improve: loop {
        for candidate in simpler(&best) {
            attempts += 1;
            if attempts > 400 {
                break 'improve;
            }
            if still_fails(&candidate) {
                best = candidate;
                continue 'improve;
            }
        }
        break;
    }
    best
}

/// Smaller variants of a request: fewer headers (not the login), fewer query pairs, a smaller
/// body.
fn simpler(request: &RawRequest) -> Vec<RawRequest> {
    let mut out = Vec::new();
    for i in 0..request.headers.len() {
        let name = request.headers[i].0.to_ascii_lowercase();
        if name != "x-user-id" && name != "x-auth-token" {
            let mut r = request.clone();
            r.headers.remove(i);
            out.push(r);
        }
    }
    if let Some((path, query)) = request.target.split_once('?') {
        let pairs: Vec<&str> = query.split('&').collect();
        let mut r = request.clone();
        r.target = path.to_owned();
        out.push(r);
        for i in 0..pairs.len() {
            let mut rest = pairs.clone();
            rest.remove(i);
            let mut r = request.clone();
            r.target = format!("{path}?{}", rest.join("&"));
            out.push(r);
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(&request.body) {
        for smaller in simpler_json(&value) {
            let mut r = request.clone();
            r.body = smaller.to_string().into_bytes();
            out.push(r);
        }
    } else if !request.body.is_empty() {
        let len = request.body.len();
        for (start, end) in [(0, len / 2), (len / 2, len), (0, 1), (len - 1, len)] {
            let mut r = request.clone();
            r.body.drain(start..end);
            out.push(r);
        }
    }
    out
}

fn simpler_json(value: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for key in map.keys() {
                let mut smaller = map.clone();
                smaller.remove(key);
                out.push(Value::Object(smaller));
            }
            for (key, child) in map {
                for simpler_child in simpler_json(child) {
                    let mut smaller = map.clone();
                    smaller.insert(key.clone(), simpler_child);
                    out.push(Value::Object(smaller));
                }
            }
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                let mut smaller = items.clone();
                smaller.remove(i);
                out.push(Value::Array(smaller));
            }
            for (i, child) in items.iter().enumerate() {
                for simpler_child in simpler_json(child) {
                    let mut smaller = items.clone();
                    smaller[i] = simpler_child;
                    out.push(Value::Array(smaller));
                }
            }
        }
        Value::String(text) if text.chars().count() > 1 && !text.starts_with("{{") => {
            let half: String = text.chars().take(text.chars().count() / 2).collect();
            out.push(Value::String(half));
        }
        _ => {}
    }
    out
}

/// The request with this fixture's ids and tokens in place of placeholders.
fn concretize(request: &RawRequest, fixture: &Fixture) -> RawRequest {
    let expand_bytes = |bytes: &[u8]| match std::str::from_utf8(bytes) {
        Ok(text) => fixture.expand(text).into_bytes(),
        Err(_) => bytes.to_vec(),
    };
    RawRequest {
        method: request.method.clone(),
        target: fixture.expand(&request.target),
        headers: request.headers.iter().map(|(n, v)| (n.clone(), expand_bytes(v))).collect(),
        body: expand_bytes(&request.body),
    }
}

fn abstracted(request: &RawRequest, fixture: &Fixture) -> RawRequest {
    let abstract_bytes = |bytes: &[u8]| match std::str::from_utf8(bytes) {
        Ok(text) => fixture.abstract_ids(text).into_bytes(),
        Err(_) => bytes.to_vec(),
    };
    RawRequest {
        method: request.method.clone(),
        target: fixture.abstract_ids(&request.target),
        headers: request.headers.iter().map(|(n, v)| (n.clone(), abstract_bytes(v))).collect(),
        body: abstract_bytes(&request.body),
    }
}

/// A request (abstract form) as a corpus entry.
fn corpus_entry(request: &RawRequest, mode: AuthMode, note: &str) -> Value {
    let mut entry = Map::new();
    entry.insert("note".into(), json!(note));
    entry.insert("method".into(), json!(request.method));
    entry.insert("target".into(), json!(request.target));
    let auth = match mode {
        AuthMode::Valid(name) => Some(name),
        AuthMode::None => Some("none"),
        AuthMode::Forged => Some("forged"),
        _ => None,
    };
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let is_login = name.eq_ignore_ascii_case("x-user-id") || name.eq_ignore_ascii_case("x-auth-token");
        if is_login && auth.is_some() {
            continue;
        }
        if name.eq_ignore_ascii_case("content-type") {
            if let Ok(text) = std::str::from_utf8(value) {
                entry.insert("content_type".into(), json!(text));
                continue;
            }
        }
        let value = match std::str::from_utf8(value) {
            Ok(text) => json!(text),
            Err(_) => json!({ "hex": crate::helpers::corpus::to_hex(value) }),
        };
        headers.insert(name.clone(), value);
    }
    entry.insert("auth".into(), json!(auth.unwrap_or("none")));
    if !headers.is_empty() {
        entry.insert("headers".into(), Value::Object(headers));
    }
    if !request.body.is_empty() {
        match (serde_json::from_slice::<Value>(&request.body), std::str::from_utf8(&request.body)) {
            (Ok(value), _) => entry.insert("json".into(), value),
            (Err(_), Ok(text)) => entry.insert("text".into(), json!(text)),
            (Err(_), Err(_)) => entry.insert("hex".into(), json!(crate::helpers::corpus::to_hex(&request.body))),
        };
    }
    Value::Object(entry)
}

/// Runs `cases` random requests against fixtures made by `make`, reporting the first failure
/// (shrunk) with the seed.
fn fuzz_router(label: &str, seed: u64, cases: usize, make: &dyn Fn() -> Fixture) {
    let started = Instant::now();
    let mut fixture = make();
    let mut gen = Gen::new(seed, fixture.dictionary());
    let mut client = InProcess::new(&fixture.state);
    let mut before = fixture.snapshot();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut unsendable = 0;
    let mut known = std::collections::BTreeMap::<&str, usize>::new();
    // LOBBY_FUZZ_STATS=1: print how often each route answered what, to see what inputs reach.
    let stats = std::env::var_os("LOBBY_FUZZ_STATS").is_some();
    let mut outcomes = std::collections::BTreeMap::<(String, String, u16, String), usize>::new();
    for case in 0..cases {
        if case > 0 && case % FIXTURE_LIFETIME == 0 {
            fixture = make();
            gen.dictionary = fixture.dictionary();
            client = InProcess::new(&fixture.state);
            before = fixture.snapshot();
        }
        let (request, mode) = gen.request(&fixture);
        match check_case(&fixture, &client, &request, mode, &before) {
            Ok(Some((reply, after))) => {
                *statuses.entry(reply.status).or_default() += 1;
                if stats {
                    let body = reply.json();
                    let what = body["errorType"].as_str().or(body["error"].as_str()).unwrap_or("").to_owned();
                    *outcomes
                        .entry((request.method.clone(), request.path().to_owned(), reply.status, what))
                        .or_default() += 1;
                }
                before = after;
                // A successful logout revokes a fixture login that later cases rely on.
                if matches!(request.path(), "/api/v1/logout" | "/api/v1/users.logout") && reply.status == 200 {
                    fixture.restore_logins();
                    before = fixture.snapshot();
                }
            }
            Ok(None) => unsendable += 1,
            Err(failure) if known_bug(&request).is_some() => {
                *known.entry(known_bug(&request).unwrap()).or_default() += 1;
                eprintln!("{label}: case {case}: known bug {}: {failure}", known_bug(&request).unwrap());
                // The failed request may have written; carry on from what the store holds now.
                before = fixture.snapshot();
            }
            Err(failure) => {
                let kind = kind_of(&failure).to_owned();
                let abstract_request = abstracted(&request, &fixture);
                let reproduces = fails_fresh(&|f| concretize(&abstract_request, f), mode);
                let (shown, note) = match reproduces {
                    Some(_) => (shrink(abstract_request.clone(), mode, &kind), "shrunk; reproduces on a fresh fixture"),
                    None => (abstract_request.clone(), "depends on what earlier cases of this run did"),
                };
                let entry = corpus_entry(&shown, mode, &failure);
                panic!(
                    "{label}: case {case} of seed {seed} failed ({note})\n  {failure}\n  request: {:?}\n\
                     replay with LOBBY_FUZZ_SEED={seed}; save as a corpus entry:\n{}",
                    String::from_utf8_lossy(&request.to_bytes()),
                    serde_json::to_string_pretty(&entry).unwrap()
                );
            }
        }
    }
    eprintln!(
        "{label}: {cases} cases (seed {seed}) in {:.2?}: statuses {statuses:?}, {unsendable} not representable, known bugs hit {known:?}",
        started.elapsed()
    );
    for ((method, path, status, what), n) in &outcomes {
        eprintln!("{n:>8}  {status} {method} {path} {what}");
    }
    // The generators must reach past validation: some successes, many kinds of rejection.
    if cases >= 1000 {
        for status in [200, 400, 401, 403, 404, 405] {
            assert!(statuses.get(&status).copied().unwrap_or(0) > 0, "{label}: no {status} in {statuses:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn random_requests_through_the_router_keep_every_promise() {
    fuzz_router("memory", seed(), cases(), &Fixture::new);
}

/// The same on the sled store (the server's default), with fewer cases: it adds the codec and
/// the on-disk index to what odd input can reach.
#[test]
fn random_requests_keep_every_promise_on_sled() {
    let dirs = std::sync::Mutex::new(Vec::new());
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        let handle = StoreSpec::parse("sled", dir.path()).unwrap().open().expect("sled store");
        dirs.lock().unwrap().push(dir);
        Fixture::with_store(handle)
    };
    fuzz_router("sled", seed().wrapping_add(1), cases() / 5, &make);
}

#[test]
fn corpus_entries_replay_cleanly() {
    let entries = CorpusEntry::load_all(&crate::helpers::corpus::corpus_dir());
    let mut failures = Vec::new();
    for entry in entries.iter().filter(|e| e.spec["ignore"].is_null()) {
        let fixture = Fixture::new();
        let client = InProcess::new(&fixture.state);
        let before = fixture.snapshot();
        let request = entry.request(&fixture);
        let reply = match client.send(&request) {
            Ok(Some(reply)) => reply,
            Ok(None) => {
                failures.push(format!("{}: not representable in-process", entry.file));
                continue;
            }
            Err(panic) => {
                failures.push(format!("{}: panic: {panic}", entry.file));
                continue;
            }
        };
        let mut problems = Vec::new();
        if let Err(e) = check_reply_for(&request.method, content_of(&request), &reply) {
            problems.push(e);
        }
        if let Err(e) = entry.check_expectations(&reply) {
            problems.push(e);
        }
        let after = fixture.snapshot();
        if (reply.status >= 400 || is_pure_read(&request)) && after != before {
            problems.push(format!("store changed: {}", before.diff(&after)));
        }
        if !problems.is_empty() {
            failures.push(format!("{} ({}): {}", entry.file, entry.note, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "corpus failures:\n{}", failures.join("\n"));
    assert!(entries.len() >= 24, "the corpus has only {} entries", entries.len());
}

/// Corpus entries that still fail: each is a known bug, reported, to be un-ignored when fixed
/// (then the entry's `"ignore"` goes too).
#[test]
#[ignore = "replays the corpus entries of open bugs (marked \"ignore\"); none are open now"]
fn corpus_entries_for_open_bugs() {
    let entries = CorpusEntry::load_all(&crate::helpers::corpus::corpus_dir());
    let mut failures = Vec::new();
    for entry in entries.iter().filter(|e| !e.spec["ignore"].is_null()) {
        let fixture = Fixture::new();
        let client = InProcess::new(&fixture.state);
        let before = fixture.snapshot();
        let request = entry.request(&fixture);
        match client.send(&request) {
            Ok(Some(reply)) => {
                let mut problems: Vec<String> =
                    check_reply_for(&request.method, content_of(&request), &reply).err().into_iter().collect();
                problems.extend(entry.check_expectations(&reply).err());
                let after = fixture.snapshot();
                if reply.status >= 400 && after != before {
                    problems.push(format!("store changed: {}", before.diff(&after)));
                }
                if !problems.is_empty() {
                    failures.push(format!("{}: {}", entry.file, problems.join("; ")));
                }
            }
            Ok(None) => failures.push(format!("{}: not representable", entry.file)),
            Err(panic) => failures.push(format!("{}: panic: {panic}", entry.file)),
        }
    }
    assert!(failures.is_empty(), "open bugs:\n{}", failures.join("\n"));
}

// --- the parsing functions, directly ----------------------------------------------------------

#[test]
fn parse_sort_accepts_exactly_one_known_field_with_plus_or_minus_one() {
    let seed = seed();
    let mut gen = Gen::new(seed, vec!["ts".into(), "name".into(), "_updatedAt".into()]);
    let n = parser_cases();
    for case in 0..n {
        let raw = match gen.below(3) {
            0 => gen.sort_text(),
            1 => gen.any_json(2).to_string(),
            _ => gen.string(),
        };
        let result = std::panic::catch_unwind(|| parse_sort(&raw))
            .unwrap_or_else(|_| panic!("seed {seed} case {case}: parse_sort panicked on {raw:?}"));
        // The reference: a JSON object, one entry, a known field, a number equal to 1 or -1.
        let expected = match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(map)) if map.len() == 1 => {
                let (name, value) = map.iter().next().unwrap();
                let number = value.as_f64();
                let direction = if number == Some(1.0) {
                    Some(Direction::Ascending)
                } else if number == Some(-1.0) {
                    Some(Direction::Descending)
                } else {
                    None
                };
                match (SortField::ALL.iter().find(|f| f.wire_name() == name), direction) {
                    (Some(field), Some(direction)) => Some((*field, direction)),
                    _ => None,
                }
            }
            _ => None,
        };
        match (result, expected) {
            (Ok(sort), Some((field, direction))) => {
                assert_eq!((sort.field, sort.direction), (field, direction), "seed {seed}: {raw:?}")
            }
            (Err(error), None) => {
                assert_eq!(error.status, 400, "{raw:?}");
                assert_eq!(error.body["errorType"], "error-invalid-sort", "{raw:?}");
                let text = error.body["error"].as_str().unwrap();
                assert!(text.starts_with("Invalid sort parameter provided: \""), "{text}");
                // The message quotes the input, cut to 200 characters.
                assert!(text.chars().count() <= 200 + 80, "an error quoting {} chars", text.chars().count());
            }
            (got, want) => panic!("seed {seed}: parse_sort({raw:?}) = {got:?}, reference says {want:?}"),
        }
    }
}

fn parser_cases() -> usize {
    std::env::var("LOBBY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|n| n.saturating_mul(5))
        .unwrap_or(DEFAULT_PARSER_CASES)
}

/// An independent statement of what each [`Kind`] accepts.
fn kind_accepts(kind: Kind, value: &Value) -> bool {
    match kind {
        Kind::String => value.is_string(),
        Kind::NullableString => value.is_string() || value.is_null(),
        Kind::Boolean => value.is_boolean(),
        Kind::Count => value.as_u64().is_some(),
        Kind::NullableCount => value.as_u64().is_some() || value.is_null(),
        Kind::NullableBoolean => value.is_boolean() || value.is_null(),
        Kind::Object => value.is_object(),
        Kind::NullableObject => value.is_object() || value.is_null(),
        Kind::StringArray => value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::ObjectArray => value.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        Kind::OneOf(allowed) => value.as_str().is_some_and(|s| allowed.contains(&s)),
        Kind::Any => true,
    }
}

#[test]
fn check_object_accepts_exactly_what_the_schema_allows() {
    const SCHEMAS: &[(&[Field], Additional)] = &[
        (&[required("inquiryId", Kind::String), optional("userId", Kind::NullableString)], Additional::Rejected),
        (&[required("department", Kind::Object), optional("agents", Kind::ObjectArray)], Additional::Rejected),
        (
            &[
                required("name", Kind::String),
                required("enabled", Kind::Boolean),
                optional("maxNumberSimultaneousChat", Kind::Count),
                optional("maxQueueWaitInSeconds", Kind::NullableCount),
                optional("clientAction", Kind::NullableBoolean),
                optional("roles", Kind::StringArray),
                optional("businessHours", Kind::NullableObject),
            ],
            Additional::Allowed,
        ),
        (
            &[optional("status", Kind::OneOf(&["available", "not-available"])), optional("agentId", Kind::String)],
            Additional::Rejected,
        ),
        (&[required("password", Kind::Any), optional("user", Kind::String)], Additional::Rejected),
    ];
    let seed = seed();
    let mut gen = Gen::new(seed, vec!["available".into(), "x".into()]);
    for _ in 0..parser_cases() {
        let (fields, additional) = *gen.pick(SCHEMAS);
        let mut map = Map::new();
        for field in fields.iter() {
            if field.presence == Presence::Required || gen.chance(0.5) {
                let value = match field.kind {
                    Kind::String | Kind::NullableString => json!(gen.string()),
                    Kind::Boolean => json!(gen.chance(0.5)),
                    Kind::Count | Kind::NullableCount => gen.number(),
                    Kind::NullableBoolean => json!(gen.chance(0.5)),
                    Kind::Object | Kind::NullableObject => json!({}),
                    Kind::StringArray => json!(["a"]),
                    Kind::ObjectArray => json!([{}]),
                    Kind::OneOf(allowed) => json!(*gen.pick(allowed)),
                    Kind::Any => gen.any_json(2),
                };
                map.insert(field.name.into(), value);
            }
        }
        let mut value = Value::Object(map);
        for _ in 0..gen.below(3) {
            gen.mutate_json(&mut value);
        }
        let Value::Object(map) = value else { continue };
        let expected_ok = fields.iter().all(|f| match map.get(f.name) {
            None => f.presence == Presence::Optional,
            Some(v) => kind_accepts(f.kind, v),
        }) && (additional == Additional::Allowed
            || map.keys().all(|k| fields.iter().any(|f| f.name == k)));
        let result = check_object(&map, fields, additional);
        assert_eq!(result.is_ok(), expected_ok, "seed {seed}: {} against {fields:?}: {result:?}", Value::Object(map));
        if let Err(error) = result {
            assert_eq!(error.status, 400);
            assert_eq!(error.body["errorType"], "invalid-params");
            assert!(error.body["error"].as_str().unwrap().ends_with(" [invalid-params]"));
        }
    }
}

#[test]
fn query_params_check_and_paging_agree() {
    use lobby_server::input::PAGING;
    let schema = [PAGING[0], PAGING[1], PAGING[2], optional("department", Kind::String)];
    let seed = seed();
    let mut gen = Gen::new(seed, vec!["Sales".into()]);
    for _ in 0..parser_cases() {
        let mut pairs = Vec::new();
        for _ in 0..gen.below(4) {
            let name = (*gen.pick(&["offset", "count", "sort", "department", "status", "Count"])).to_owned();
            let value = gen.param_value(&name);
            pairs.push((name, value));
        }
        let query = QueryParams(pairs.clone());
        let checked = query.check(&schema);
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        let unknown = names.iter().any(|n| !["offset", "count", "sort", "department"].contains(n));
        let repeated = names.iter().enumerate().any(|(i, n)| names[..i].contains(n));
        if unknown || repeated {
            assert!(checked.is_err(), "seed {seed}: {pairs:?} passed the check");
            continue;
        }
        let Ok(()) = checked else { continue };
        let paging = query.paging();
        let (offset, count) = (paging.offset, paging.count);
        assert!((1..=MAX_PAGE_SIZE).contains(&count), "seed {seed}: {pairs:?} gave count {count}");
        match query.get("count") {
            None => assert_eq!(count, DEFAULT_PAGE_SIZE),
            Some(text) => {
                if let Ok(n) = text.trim().parse::<u64>() {
                    let want = if n == 0 { MAX_PAGE_SIZE } else { (n as usize).min(MAX_PAGE_SIZE) };
                    assert_eq!(count, want, "seed {seed}: count={text:?}");
                }
            }
        }
        if let Some(text) = query.get("offset") {
            if let Ok(n) = text.trim().parse::<u64>() {
                assert_eq!(offset as u64, n, "seed {seed}: offset={text:?}");
            }
        } else {
            assert_eq!(offset, 0);
        }
        let _ = query.sort();
    }
}
