//! The present: every conversation not yet closed, every agent and department, kept current
//! from the commit feed with counters, so that "how many wait, where, since when" and "who
//! serves what" cost O(departments + agents), never a scan of inquiries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lobby_core::{
    Agent, AgentAvailability, Department, DepartmentId, Inquiry, InquiryId, InquiryStatus, PriorityWeight, Timestamp,
    UserId,
};

use super::event::LiveEvent;

/// What the counters need to know of one open conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracked {
    status: InquiryStatus,
    department: Option<DepartmentId>,
    agent: Option<UserId>,
    priority: PriorityWeight,
    queued_at: Timestamp,
}

impl Tracked {
    fn of(inquiry: &Inquiry) -> Option<Self> {
        (inquiry.status != InquiryStatus::Closed).then(|| Self {
            status: inquiry.status,
            department: inquiry.department.clone(),
            agent: if inquiry.status == InquiryStatus::Taken { inquiry.served_by_id().cloned() } else { None },
            priority: inquiry.priority_weight,
            queued_at: inquiry.age_key(),
        })
    }
}

/// The live state of the queue and the agents.
#[derive(Debug, Default)]
pub struct NowState {
    open: HashMap<InquiryId, Tracked>,
    /// Waiting conversations by queue age: the first is the oldest.
    waiting_by_age: BTreeSet<(Timestamp, InquiryId)>,
    waiting_by_department: BTreeMap<Option<DepartmentId>, usize>,
    waiting_by_priority: BTreeMap<PriorityWeight, usize>,
    /// Served conversations per agent and department (`livechat/queue`).
    served: BTreeMap<(UserId, Option<DepartmentId>), usize>,
    agents: BTreeMap<UserId, Agent>,
    departments: BTreeMap<DepartmentId, Department>,
}

impl NowState {
    /// Records `inquiry` as it is now (closed ones are forgotten).
    pub fn set_inquiry(&mut self, inquiry: &Inquiry) {
        let next = Tracked::of(inquiry);
        if let Some(old) = self.open.remove(&inquiry.id) {
            self.count(&inquiry.id, &old, false);
        }
        if let Some(next) = next {
            self.count(&inquiry.id, &next, true);
            self.open.insert(inquiry.id.clone(), next);
        }
    }

    fn count(&mut self, id: &InquiryId, tracked: &Tracked, add: bool) {
        fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, usize>, key: &K, add: bool) {
            let slot = map.entry(key.clone()).or_default();
            *slot = if add { *slot + 1 } else { slot.saturating_sub(1) };
            if *slot == 0 {
                map.remove(key);
            }
        }
        // An offered conversation's visitor still waits: it counts until an agent serves it.
        if tracked.status.is_unserved() {
            bump(&mut self.waiting_by_department, &tracked.department, add);
            bump(&mut self.waiting_by_priority, &tracked.priority, add);
            let key = (tracked.queued_at, id.clone());
            if add {
                self.waiting_by_age.insert(key);
            } else {
                self.waiting_by_age.remove(&key);
            }
        }
        if let Some(agent) = &tracked.agent {
            bump(&mut self.served, &(agent.clone(), tracked.department.clone()), add);
        }
    }

    /// Records an agent as it is now (`None`: removed).
    pub fn set_agent(&mut self, id: &UserId, agent: Option<Agent>) {
        match agent {
            Some(agent) => self.agents.insert(id.clone(), agent),
            None => self.agents.remove(id),
        };
    }

    /// Records a department as it is now (`None`: gone).
    pub fn set_department(&mut self, id: &DepartmentId, department: Option<Department>) {
        match department {
            Some(department) => self.departments.insert(id.clone(), department),
            None => self.departments.remove(id),
        };
    }

    /// Applies one committed event.
    pub fn apply(&mut self, live: &LiveEvent) {
        if let (Some(inquiry), Some(_)) = (&live.inquiry, live.change()) {
            self.set_inquiry(inquiry);
        }
        for (id, agent) in &live.agents {
            self.set_agent(id, agent.clone());
        }
        if let Some((id, department)) = &live.department {
            self.set_department(id, department.clone());
        }
    }

    /// How many conversations wait (queued, open, or offered to an agent who has not answered).
    pub fn waiting(&self) -> usize {
        self.waiting_by_age.len()
    }

    /// Waiting conversations per department (`None`: the public queue).
    pub fn waiting_by_department(&self) -> &BTreeMap<Option<DepartmentId>, usize> {
        &self.waiting_by_department
    }

    /// Waiting conversations per priority.
    pub fn waiting_by_priority(&self) -> &BTreeMap<PriorityWeight, usize> {
        &self.waiting_by_priority
    }

    /// When the longest-waiting conversation entered the queue.
    pub fn oldest_waiting_since(&self) -> Option<Timestamp> {
        self.waiting_by_age.first().map(|(at, _)| *at)
    }

    /// Served conversations per agent and department.
    pub fn served(&self) -> &BTreeMap<(UserId, Option<DepartmentId>), usize> {
        &self.served
    }

    /// Every agent, by id.
    pub fn agents(&self) -> &BTreeMap<UserId, Agent> {
        &self.agents
    }

    /// Every department, by id.
    pub fn departments(&self) -> &BTreeMap<DepartmentId, Department> {
        &self.departments
    }

    /// A department's name, or `None` for the public queue and for departments not known.
    pub fn department_name(&self, id: Option<&DepartmentId>) -> Option<&str> {
        id.and_then(|id| self.departments.get(id)).map(|d| d.name.as_str())
    }

    /// How many agents are available.
    pub fn available_agents(&self) -> usize {
        self.agents.values().filter(|a| a.availability == AgentAvailability::Available).count()
    }
}

#[cfg(test)]
mod tests {
    use lobby_core::{RoomId, ServedBy, VisitorId, VisitorSummary};

    use super::*;

    fn inquiry(id: &str, status: InquiryStatus, department: Option<&str>, queued_at: i64) -> Inquiry {
        let visitor = VisitorSummary::new(VisitorId::new(format!("v-{id}")).unwrap(), "guest", format!("t-{id}"));
        let mut inquiry = Inquiry::new(
            InquiryId::new(id).unwrap(),
            RoomId::new(format!("r-{id}")).unwrap(),
            visitor,
            "name",
            Timestamp::from_millis(queued_at),
        );
        inquiry.status = status;
        inquiry.department = department.map(|d| DepartmentId::new(d).unwrap());
        if status == InquiryStatus::Taken {
            inquiry.served_by =
                Some(ServedBy { id: UserId::new("alice").unwrap(), username: "alice".into(), ts: Timestamp::EPOCH });
        }
        inquiry
    }

    #[test]
    fn counters_follow_each_conversation_through_its_life() {
        let mut now = NowState::default();
        now.set_inquiry(&inquiry("a", InquiryStatus::Queued, None, 10));
        now.set_inquiry(&inquiry("b", InquiryStatus::Open, Some("sales"), 5));
        now.set_inquiry(&inquiry("a", InquiryStatus::Open, None, 10));
        assert_eq!(now.waiting(), 2);
        assert_eq!(now.oldest_waiting_since(), Some(Timestamp::from_millis(5)));
        let sales = Some(DepartmentId::new("sales").unwrap());
        assert_eq!(now.waiting_by_department().get(&sales), Some(&1));
        assert_eq!(now.waiting_by_department().get(&None), Some(&1));

        now.set_inquiry(&inquiry("b", InquiryStatus::Taken, Some("sales"), 5));
        assert_eq!(now.waiting(), 1);
        assert_eq!(now.oldest_waiting_since(), Some(Timestamp::from_millis(10)));
        assert_eq!(now.served().get(&(UserId::new("alice").unwrap(), sales.clone())), Some(&1));
        assert_eq!(now.waiting_by_department().get(&sales), None);

        now.set_inquiry(&inquiry("b", InquiryStatus::Closed, Some("sales"), 5));
        now.set_inquiry(&inquiry("a", InquiryStatus::Closed, None, 10));
        assert_eq!((now.waiting(), now.served().len(), now.waiting_by_priority().len()), (0, 0, 0));
        assert_eq!(now.oldest_waiting_since(), None);
    }
}
