//! Routing rules, as pure functions: which target of a department's rules applies to an
//! inquiry at its queue age, and whether an agent matches it. Like [`crate::routing`], nothing
//! here reads a store or a clock; [`crate::Engine`] passes in the records and the time.
//!
//! Rules are an ordered list of targets, as in Twilio TaskRouter's workflows. The first target
//! applies from the moment an inquiry queues; after its timeout the next one does, and so on.
//! Once the last target has timed out, every agent of the department may serve it, as Twilio's
//! default queue would. A target without a timeout never relaxes, so targets after it are never
//! reached.

use std::time::Duration;

use lobby_expr::Expression;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_ROUTING_TARGETS;
use crate::model::{Agent, Inquiry};
use crate::time::Timestamp;
use crate::CoreError;

/// How far a target raises an inquiry in dispatch order while it applies: inquiries with a
/// greater boost are dispatched first; equal boosts keep the configured queue order. 0 = none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriorityBoost(pub u8);

impl PriorityBoost {
    /// No boost.
    pub const NONE: PriorityBoost = PriorityBoost(0);

    /// Whether there is none.
    pub fn is_none(&self) -> bool {
        self.0 == 0
    }
}

/// One step of a routing rule: who may serve, for how long, and with what boost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutingTarget {
    /// Which agents match, e.g. `skills HAS task.topic AND level >= 3`; parsed once, when the
    /// rule is built or its record is read, and kept as its source text in records.
    pub expression: Expression,
    /// How long this target applies (counted after the targets before it) before the inquiry
    /// falls through to the next; `None` = for good. Seconds on the wire, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "seconds")]
    pub timeout: Option<Duration>,
    /// How far the inquiry moves up in dispatch order while this target applies.
    #[serde(default, skip_serializing_if = "PriorityBoost::is_none")]
    pub priority_boost: PriorityBoost,
}

impl RoutingTarget {
    /// A target with no timeout and no boost.
    pub fn new(expression: Expression) -> Self {
        Self { expression, timeout: None, priority_boost: PriorityBoost::NONE }
    }

    /// Parses `expression` into a target with no timeout and no boost.
    pub fn parse(expression: &str) -> Result<Self, CoreError> {
        Ok(Self::new(Expression::parse(expression)?))
    }

    /// This target with a timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout: Some(timeout), ..self }
    }

    /// This target with a priority boost.
    pub fn with_boost(self, boost: u8) -> Self {
        Self { priority_boost: PriorityBoost(boost), ..self }
    }
}

/// An ordered list of [`RoutingTarget`]s: a department's, or the global default
/// ([`RoutingConfig::rules`](crate::RoutingConfig::rules)). Empty = no rule: every agent in
/// scope matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoutingRules {
    targets: Vec<RoutingTarget>,
}

impl RoutingRules {
    /// At most [`MAX_ROUTING_TARGETS`] targets, each timeout at least one second (a shorter
    /// one could never be seen to apply).
    pub fn new(targets: Vec<RoutingTarget>) -> Result<Self, CoreError> {
        if targets.len() > MAX_ROUTING_TARGETS {
            return Err(CoreError::invalid("routingRules", format!("at most {MAX_ROUTING_TARGETS} targets")));
        }
        if targets.iter().any(|t| t.timeout.is_some_and(|timeout| timeout < Duration::from_secs(1))) {
            return Err(CoreError::invalid("routingRules", "a target's timeout is at least 1 second"));
        }
        Ok(Self { targets })
    }

    /// No targets.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The targets, in order.
    pub fn targets(&self) -> &[RoutingTarget] {
        &self.targets
    }

    /// Whether any target boosts priority (dispatch reorders only then).
    pub fn boosts(&self) -> bool {
        self.targets.iter().any(|t| !t.priority_boost.is_none())
    }

    /// The stage an inquiry queued for `age` is at: target `i` applies while `age` is below
    /// the sum of the timeouts of targets `0..=i` (and from the sum of those before it).
    pub fn stage(&self, age: Duration) -> Stage<'_> {
        if self.targets.is_empty() {
            return Stage::NoRules;
        }
        let mut start = Duration::ZERO;
        for (index, target) in self.targets.iter().enumerate() {
            match target.timeout {
                None => return Stage::Target { index, target, relaxes_after: None },
                Some(timeout) => {
                    let end = start.saturating_add(timeout);
                    if age < end {
                        return Stage::Target { index, target, relaxes_after: Some(end) };
                    }
                    start = end;
                }
            }
        }
        Stage::Relaxed
    }
}

/// Stored rules are checked again on load, so that a record edited by hand cannot hold more
/// targets or shorter timeouts than the API allows.
impl<'de> Deserialize<'de> for RoutingRules {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let targets = Vec::<RoutingTarget>::deserialize(deserializer)?;
        RoutingRules::new(targets).map_err(serde::de::Error::custom)
    }
}

/// Where an inquiry is in its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage<'a> {
    /// No rules apply: every agent in scope matches.
    NoRules,
    /// Target `index` applies.
    Target {
        /// Its place in the list, from 0.
        index: usize,
        /// The target.
        target: &'a RoutingTarget,
        /// The queue age at which the next target applies; `None` = never.
        relaxes_after: Option<Duration>,
    },
    /// Every target has timed out: every agent in scope matches.
    Relaxed,
}

impl Stage<'_> {
    /// Whether `agent` may serve `inquiry` at this stage. Allocates nothing.
    pub fn admits(&self, agent: &Agent, inquiry: &Inquiry) -> bool {
        match self {
            Stage::Target { target, .. } => {
                target.expression.matches(agent.attributes.as_value(), inquiry.attributes.as_value())
            }
            Stage::NoRules | Stage::Relaxed => true,
        }
    }

    /// Why `agent` does not match, or `None` when it does. Allocates: for people, not routing.
    pub fn mismatch(&self, agent: &Agent, inquiry: &Inquiry) -> Option<lobby_expr::Explanation> {
        match self {
            Stage::Target { target, .. } => {
                let explanation = target.expression.explain(agent.attributes.as_value(), inquiry.attributes.as_value());
                (!explanation.matched).then_some(explanation)
            }
            Stage::NoRules | Stage::Relaxed => None,
        }
    }

    /// The boost in force.
    pub fn boost(&self) -> PriorityBoost {
        match self {
            Stage::Target { target, .. } => target.priority_boost,
            Stage::NoRules | Stage::Relaxed => PriorityBoost::NONE,
        }
    }

    /// When the next target applies to an inquiry first queued at `queued_at`; `None` = never.
    pub fn relaxes_at(&self, queued_at: Timestamp) -> Option<Timestamp> {
        match self {
            Stage::Target { relaxes_after: Some(after), .. } => Some(queued_at.plus(*after)),
            _ => None,
        }
    }
}

/// `target 1 of 3 \`level >= 3\``, `no routing rules`, `every target timed out`.
impl std::fmt::Display for Stage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::NoRules => f.write_str("no routing rules"),
            Stage::Target { index, target, .. } => write!(f, "target {} `{}`", index + 1, target.expression),
            Stage::Relaxed => f.write_str("every target timed out"),
        }
    }
}

/// How long `inquiry` has waited at `now`, counted from when it first queued (a return to the
/// queue or a transfer keeps its age, and so its stage).
pub fn queue_age(inquiry: &Inquiry, now: Timestamp) -> Duration {
    Duration::from_millis(now.millis_since(inquiry.age_key()))
}

/// The order to dispatch inquiries in, given in queue order with their boosts: greater boost
/// first, and queue order among equal boosts (the sort is stable). Indexes into the input.
pub fn boosted_order(boosts: &[PriorityBoost]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boosts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(boosts[i]));
    order
}

/// Timeouts as whole seconds on the wire (Rocket.Chat's timer settings are seconds too).
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(timeout: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match timeout {
            Some(timeout) => serializer.serialize_u64(timeout.as_secs()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InquiryId, RoomId, UserId, VisitorId};
    use crate::model::{Attributes, VisitorSummary};
    use serde_json::json;

    fn rules() -> RoutingRules {
        RoutingRules::new(vec![
            RoutingTarget::parse("skills HAS task.topic AND level >= 3").unwrap().with_timeout(Duration::from_secs(60)),
            RoutingTarget::parse("skills HAS task.topic").unwrap().with_timeout(Duration::from_secs(120)).with_boost(2),
            RoutingTarget::parse("region IN [\"EU\", \"UK\"]").unwrap().with_timeout(Duration::from_secs(30)),
        ])
        .unwrap()
    }

    fn index(stage: Stage<'_>) -> Option<usize> {
        match stage {
            Stage::Target { index, .. } => Some(index),
            _ => None,
        }
    }

    #[test]
    fn each_target_applies_until_the_sum_of_timeouts_so_far() {
        let rules = rules();
        let at = |secs: u64, millis: u64| index(rules.stage(Duration::from_secs(secs) + Duration::from_millis(millis)));
        assert_eq!(at(0, 0), Some(0));
        assert_eq!(at(59, 999), Some(0));
        assert_eq!(at(60, 0), Some(1), "the first target's timeout is over at 60 s");
        assert_eq!(at(179, 999), Some(1));
        assert_eq!(at(180, 0), Some(2), "60 + 120 s");
        assert_eq!(at(209, 999), Some(2));
        assert_eq!(rules.stage(Duration::from_secs(210)), Stage::Relaxed, "every target timed out");
        assert_eq!(RoutingRules::none().stage(Duration::ZERO), Stage::NoRules);
        let Stage::Target { relaxes_after, .. } = rules.stage(Duration::from_secs(61)) else { panic!("target 1") };
        assert_eq!(relaxes_after, Some(Duration::from_secs(180)));
        assert_eq!(rules.stage(Duration::from_secs(61)).boost(), PriorityBoost(2));
        assert_eq!(
            rules.stage(Duration::ZERO).relaxes_at(Timestamp::from_millis(5)),
            Some(Timestamp::from_millis(60_005))
        );
    }

    #[test]
    fn a_target_without_timeout_holds_for_good() {
        let rules = RoutingRules::new(vec![
            RoutingTarget::parse("level >= 3").unwrap(),
            RoutingTarget::parse("1 == 1").unwrap(),
        ])
        .unwrap();
        assert_eq!(index(rules.stage(Duration::from_secs(86_400 * 365))), Some(0));
        assert_eq!(rules.stage(Duration::ZERO).relaxes_at(Timestamp::EPOCH), None);
    }

    #[test]
    fn agents_match_by_the_current_target_and_say_why_not() {
        let rules = rules();
        let visitor = VisitorSummary::new(VisitorId::new("v").unwrap(), "guest", "token");
        let mut inquiry =
            Inquiry::new(InquiryId::new("i").unwrap(), RoomId::new("r").unwrap(), visitor, "V", Timestamp::EPOCH);
        inquiry.attributes = Attributes::new(json!({"topic": "billing"})).unwrap();
        let mut junior = Agent::new(UserId::new("a").unwrap(), "a", Timestamp::EPOCH);
        junior.attributes = Attributes::new(json!({"skills": ["billing"], "level": 2, "region": "US"})).unwrap();
        let first = rules.stage(Duration::ZERO);
        assert!(!first.admits(&junior, &inquiry));
        assert_eq!(
            first.mismatch(&junior, &inquiry).unwrap().to_string(),
            "expression false: `level >= 3` (level = 2)"
        );
        let second = rules.stage(Duration::from_secs(60));
        assert!(second.admits(&junior, &inquiry));
        assert_eq!(second.mismatch(&junior, &inquiry), None);
        assert!(!rules.stage(Duration::from_secs(180)).admits(&junior, &inquiry), "region US is not EU or UK");
        assert!(rules.stage(Duration::from_secs(210)).admits(&junior, &inquiry), "relaxed: anyone");
    }

    #[test]
    fn rules_are_bounded_and_stored_as_text() {
        let too_many = vec![RoutingTarget::parse("1 == 1").unwrap(); MAX_ROUTING_TARGETS + 1];
        assert!(RoutingRules::new(too_many).is_err());
        let zero = RoutingTarget::parse("1 == 1").unwrap().with_timeout(Duration::from_millis(500));
        assert!(RoutingRules::new(vec![zero]).is_err());
        let json = serde_json::to_value(rules()).unwrap();
        assert_eq!(json[1], json!({"expression": "skills HAS task.topic", "timeout": 120, "priorityBoost": 2}));
        assert_eq!(serde_json::from_value::<RoutingRules>(json).unwrap(), rules());
        let bad = json!([{"expression": "level >= AND", "timeout": 5}]);
        let error = serde_json::from_value::<RoutingRules>(bad).unwrap_err().to_string();
        assert!(error.contains("at 9"), "the parse error names its position: {error}");
    }

    #[test]
    fn boosts_move_inquiries_up_and_keep_queue_order_among_equals() {
        let boosts = [PriorityBoost(0), PriorityBoost(2), PriorityBoost(0), PriorityBoost(1), PriorityBoost(2)];
        assert_eq!(boosted_order(&boosts), [1, 4, 3, 0, 2]);
    }
}
