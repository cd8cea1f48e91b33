//! A seeded, reproducible data generator for the benchmarks, and the helpers that load its
//! records into each backend.
//!
//! Same seed and size, same records, byte for byte: ids are Meteor-style (17 characters from
//! Meteor's `Random.id()` alphabet) drawn from a `StdRng`, timestamps spread over 30 days, 20
//! departments (uniformly), realistic visitor names and first messages, and the status mix of a
//! busy queue: about 80 % `open`, 5 % `queued`, 7 % `taken`, 8 % `closed`.

pub mod footprint;
pub mod sqlite;

use std::collections::BTreeSet;

use lobby_core::{
    Agent, Commit, Department, DepartmentId, Inquiry, InquiryId, InquirySource, InquiryStatus, PriorityWeight, Record,
    Role, RoomId, ServedBy, SourceType, Store, StoreExt, Timestamp, User, UserId, VisitorId, VisitorSummary, Write,
    NO_SLA_MINUTES,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Meteor's `Random.id()` alphabet (no 0, 1, I, O, U, V, l).
pub const METEOR_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// The seed every benchmark dataset is drawn from.
pub const SEED: u64 = 0x10bb_2024;
pub const DEPARTMENTS: usize = 20;
pub const AGENTS: usize = 20;
/// Records per [`Commit`] when bulk-loading.
pub const LOAD_BATCH: usize = 1_000;

/// 2024-05-01T00:00:00Z; inquiries are created over the 30 days that follow.
const START_MS: i64 = 1_714_521_600_000;
const DAY_MS: i64 = 86_400_000;
const SPAN_MS: i64 = 30 * DAY_MS;

const FIRST_NAMES: &[&str] = &[
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elena",
    "Fatima",
    "Gabriel",
    "Hana",
    "Igor",
    "Julia",
    "Kenji",
    "Lucas",
    "Marcos",
    "Nadia",
    "Olivia",
    "Pedro",
    "Quentin",
    "Rafaela",
    "Sofia",
    "Tomás",
    "Uma",
    "Valentina",
    "William",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Aiko",
    "Benedikt",
    "Chloé",
    "Dmitri",
    "Emma",
    "Felipe",
    "Grace",
    "Hugo",
    "Isabela",
    "João",
    "Karin",
    "Liam",
    "Mei",
    "Noah",
    "Omar",
    "Priya",
    "Renée",
    "Samuel",
    "Thiago",
    "Ursula",
    "Vikram",
    "Wen",
    "Yara",
    "Zainab",
    "mariana",
    "guest",
];
const LAST_NAMES: &[&str] = &[
    "Almeida",
    "Becker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Ferreira",
    "García",
    "Hoffmann",
    "Ibrahim",
    "Jensen",
    "Kowalski",
    "Lopes",
    "Müller",
    "Nakamura",
    "Oliveira",
    "Petrov",
    "Quispe",
    "Rossi",
    "Santos",
    "Tanaka",
    "Ueda",
    "Vargas",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Andersson",
    "Bianchi",
    "Chen",
    "Defendi",
    "Evans",
    "Fischer",
    "Gomes",
    "Haddad",
    "Ivanova",
    "Kim",
    "Lefebvre",
    "Martins",
    "Nguyen",
    "O'Brien",
    "Pereira",
    "Ribeiro",
    "Silva",
    "Schmidt",
    "Souza",
    "Wang",
    "Kumar",
    "Novak",
];
const MESSAGES: &[&str] = &[
    "Hi, I need help with my order",
    "Hello! My payment was declined but I was charged",
    "How do I reset my password?",
    "Is the premium plan billed monthly or yearly?",
    "The app crashes when I open the settings page",
    "Can I change the delivery address of order #48213?",
    "I'd like to cancel my subscription",
    "Do you ship to Portugal?",
    "Olá, preciso de ajuda com a minha fatura",
    "My invoice shows the wrong company name",
    "hello?",
    "",
];
const DEPARTMENT_NAMES: [&str; DEPARTMENTS] = [
    "Sales",
    "Support",
    "Billing",
    "Onboarding",
    "Returns",
    "Shipping",
    "Enterprise",
    "Partners",
    "Security",
    "Accessibility",
    "Mobile",
    "Integrations",
    "Marketplace",
    "Payments",
    "Accounts",
    "Hardware",
    "Education",
    "Healthcare",
    "Public Sector",
    "Feedback",
];

/// A Meteor-style 17-character id.
pub fn meteor_id(rng: &mut StdRng) -> String {
    (0..17).map(|_| METEOR_ALPHABET[rng.gen_range(0..METEOR_ALPHABET.len())] as char).collect()
}

/// Which statuses a dataset's inquiries have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// A busy queue: ~80 % open, 5 % queued, 7 % taken, 8 % closed.
    Queue,
    /// Nothing waiting: ~45 % taken, 55 % closed (the background of the dispatch benchmark).
    Settled,
}

/// Everything a benchmark store holds before measuring.
#[derive(Clone)]
pub struct Dataset {
    pub departments: Vec<Department>,
    /// The agents' users, then the manager.
    pub users: Vec<User>,
    /// Unlimited capacity (`max_chats` 0, no department or global limit); each serves three
    /// departments, so every department has three agents.
    pub agents: Vec<Agent>,
    /// A `livechat-manager`, the actor of `Engine::list`.
    pub manager: UserId,
    /// In creation (`ts`) order, as a real queue fills up.
    pub inquiries: Vec<Inquiry>,
}

fn user(rng: &mut StdRng, username: &str, role: Role) -> User {
    User {
        id: UserId::new(meteor_id(rng)).unwrap(),
        username: username.to_owned(),
        name: username.to_owned(),
        email: Some(format!("{username}@example.com")),
        roles: BTreeSet::from([role]),
        active: true,
        password_hash: None,
        login_token_hashes: vec![],
        created_at: Timestamp::from_millis(START_MS - DAY_MS),
        updated_at: Timestamp::from_millis(START_MS - DAY_MS),
    }
}

/// `n` inquiries of the given mix, and the departments, agents and users around them.
pub fn generate(n: usize, mix: Mix) -> Dataset {
    let mut rng = StdRng::seed_from_u64(SEED ^ n as u64 ^ (mix as u64) << 40);
    let before = Timestamp::from_millis(START_MS - DAY_MS);
    let departments: Vec<Department> = DEPARTMENT_NAMES
        .iter()
        .map(|name| Department {
            description: format!("{name} team"),
            email: format!("{}@example.com", name.to_lowercase().replace(' ', "-")),
            ..Department::new(DepartmentId::new(meteor_id(&mut rng)).unwrap(), *name, before)
        })
        .collect();
    let mut users = Vec::with_capacity(AGENTS + 1);
    let mut agents = Vec::with_capacity(AGENTS);
    for a in 0..AGENTS {
        let username = format!("agent.{}", FIRST_NAMES[a].to_lowercase());
        let u = user(&mut rng, &username, Role::livechat_agent());
        agents.push(Agent {
            departments: (0..3).map(|k| departments[(a + k) % DEPARTMENTS].id.clone()).collect(),
            ..Agent::new(u.id.clone(), u.username.clone(), before)
        });
        users.push(u);
    }
    let manager = user(&mut rng, "manager", Role::livechat_manager());
    let manager_id = manager.id.clone();
    users.push(manager);

    let mut inquiries: Vec<Inquiry> = (0..n).map(|k| inquiry(&mut rng, k, mix, &departments, &agents)).collect();
    inquiries.sort_by_key(|i| i.ts);
    Dataset { departments, users, agents, manager: manager_id, inquiries }
}

fn inquiry(rng: &mut StdRng, k: usize, mix: Mix, departments: &[Department], agents: &[Agent]) -> Inquiry {
    let roll = rng.gen_range(0..100);
    let status = match mix {
        Mix::Queue => match roll {
            0..80 => InquiryStatus::Open,
            80..85 => InquiryStatus::Queued,
            85..92 => InquiryStatus::Taken,
            _ => InquiryStatus::Closed,
        },
        Mix::Settled if roll < 45 => InquiryStatus::Taken,
        Mix::Settled => InquiryStatus::Closed,
    };
    let ts = Timestamp::from_millis(START_MS + rng.gen_range(0..SPAN_MS));
    let name = match rng.gen_range(0..20) {
        0 => format!("Guest {}", rng.gen_range(1_000..100_000)),
        1 => FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())].to_owned(),
        _ => format!(
            "{} {}",
            FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())],
            LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())]
        ),
    };
    let served_by = matches!(status, InquiryStatus::Taken | InquiryStatus::Closed).then(|| {
        let agent = &agents[rng.gen_range(0..agents.len())];
        ServedBy {
            id: agent.id.clone(),
            username: agent.username.clone(),
            ts: ts.plus_millis(rng.gen_range(5_000..600_000)),
        }
    });
    let updated_at = match (&served_by, status) {
        (Some(s), InquiryStatus::Closed) => s.ts.plus_millis(rng.gen_range(60_000..3_600_000)),
        (Some(s), _) => s.ts,
        (None, _) => ts,
    };
    let (priority, sla) = match rng.gen_range(0..10) {
        0 => (PriorityWeight::new(rng.gen_range(1..=5)).unwrap(), rng.gen_range(5..120)),
        _ => (PriorityWeight::UNSET, NO_SLA_MINUTES),
    };
    let id = InquiryId::new(meteor_id(rng)).unwrap();
    let rid = RoomId::new(meteor_id(rng)).unwrap();
    let message = MESSAGES[rng.gen_range(0..MESSAGES.len())].to_owned();
    let department = Some(departments[rng.gen_range(0..departments.len())].id.clone());
    let visitor =
        VisitorSummary::new(VisitorId::new(meteor_id(rng)).unwrap(), format!("guest-{}", k + 1), meteor_id(rng));
    Inquiry {
        message,
        status,
        department,
        priority_weight: priority,
        estimated_waiting_time_queue: sla,
        taken_at: served_by.as_ref().map(|s| s.ts),
        served_by,
        source: Some(InquirySource { kind: SourceType::Widget }),
        updated_at,
        ..Inquiry::new(id, rid, visitor, name, ts)
    }
}

/// `count` queued inquiries, distinct from any dataset's: what dispatch assigns.
pub fn queued_batch(count: usize, data: &Dataset) -> Vec<Inquiry> {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xd15_9a7c);
    (0..count)
        .map(|k| {
            let mut inquiry = inquiry(&mut rng, k, Mix::Queue, &data.departments, &data.agents);
            inquiry.status = InquiryStatus::Queued;
            (inquiry.served_by, inquiry.taken_at) = (None, None);
            // The newest: after everything in the background.
            inquiry.ts = Timestamp::from_millis(START_MS + SPAN_MS + k as i64 * 1_000);
            inquiry.queued_at = Some(inquiry.ts);
            inquiry.updated_at = inquiry.ts;
            inquiry
        })
        .collect()
}

/// Writes the dataset into `store` in commits of [`LOAD_BATCH`] records, without events.
pub fn load_store<S: Store>(store: &S, data: &Dataset, extra: &[Inquiry]) {
    let mut records: Vec<Record> = Vec::new();
    records.extend(data.departments.iter().cloned().map(Record::Department));
    records.extend(data.users.iter().cloned().map(Record::User));
    records.extend(data.agents.iter().cloned().map(Record::Agent));
    store.commit(Commit { writes: records.into_iter().map(Write::create).collect(), events: vec![] }).unwrap();
    for chunk in data.inquiries.chunks(LOAD_BATCH).chain(extra.chunks(LOAD_BATCH)) {
        let writes = chunk.iter().map(|i| Write::create(Record::Inquiry(i.clone()))).collect();
        store.commit(Commit { writes, events: vec![] }).unwrap();
    }
}

/// Writes `originals` back over their current versions: puts taken or assigned inquiries back
/// as they were, between measured batches (untimed), so a dataset keeps its size and mix.
pub fn restore<S: Store>(store: &S, originals: &[Inquiry]) {
    for chunk in originals.chunks(LOAD_BATCH) {
        let writes = chunk
            .iter()
            .map(|i| {
                let current = store.inquiry(&i.id).unwrap().expect("inquiry to restore");
                Write::update(current.version, Record::Inquiry(i.clone()))
            })
            .collect();
        store.commit(Commit { writes, events: vec![] }).unwrap();
    }
}

/// Puts taken inquiries back as they were, and their agents with them (untimed).
pub fn reopen<S: Store>(store: &S, data: &Dataset, inquiries: &[Inquiry]) {
    restore(store, inquiries);
    restore_agents(store, &data.agents);
}

/// Writes the agents back as generated (no chats, no load): takes add each conversation to its
/// agent's record, and without this the records would grow round after round.
pub fn restore_agents<S: Store>(store: &S, agents: &[Agent]) {
    let writes = agents
        .iter()
        .map(|a| {
            let current = store.agent(&a.id).unwrap().expect("agent to restore");
            Write::update(current.version, Record::Agent(a.clone()))
        })
        .collect();
    store.commit(Commit { writes, events: vec![] }).unwrap();
}

/// Takes between two resets of the take benchmarks: ten per agent, a busy agent's load. An
/// agent's record lists the conversations it serves, so each take copies that list; rounds
/// long enough for an agent to reach hundreds of chats (the whole 20,000-inquiry pool, as the
/// benchmarks did before) measure that copy more than the take (docs/performance.md, "The
/// memory take, with agents at a busy agent's load").
pub const TAKES_PER_ROUND: usize = AGENTS * 10;

/// Times `round` over slices of `pool` of at most [`TAKES_PER_ROUND`] inquiries, as many as
/// criterion asks for, walking the pool from one slice to the next, and calls `reset`
/// (untimed) after each slice to put them back, so a benchmark that takes inquiries keeps its
/// dataset as it was however long it runs.
pub fn timed_rounds(
    b: &mut criterion::Bencher<'_>,
    pool: &[Inquiry],
    mut round: impl FnMut(&[Inquiry]),
    mut reset: impl FnMut(&[Inquiry]),
) {
    let mut start = 0;
    b.iter_custom(|iters| {
        let mut left = iters as usize;
        let mut timed = std::time::Duration::ZERO;
        while left > 0 {
            let len = left.min(TAKES_PER_ROUND).min(pool.len() - start);
            let slice = &pool[start..start + len];
            let begun = std::time::Instant::now();
            round(slice);
            timed += begun.elapsed();
            reset(slice);
            left -= len;
            start = (start + len) % pool.len();
        }
        timed
    });
}
