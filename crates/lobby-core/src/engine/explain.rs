//! "Why": where an inquiry stands in its routing rules, and what routing makes of every agent.

use crate::event::Actor;
use crate::ids::InquiryId;
use crate::machine::TransitionKind;
use crate::permissions::Permission;
use crate::rules::queue_age;
use crate::store::{Store, StoreExt};
use crate::why::{verdicts, CurrentTarget, RoutingExplanation};
use crate::CoreError;

use super::Engine;

impl<S: Store> Engine<S> {
    /// Why an unserved inquiry (waiting, or offered) is where it is: the routing target that
    /// applies now and when the next one does, every agent either eligible (with its rank under
    /// the routing method: rank 1 is the agent dispatch would choose now) or the first reason
    /// it is not, and its queue position. Needs `view-livechat-manager`.
    ///
    /// It reads what dispatch reads and asks the same pure policy, so a dispatch right after it
    /// (with nothing changed in between) assigns the agent it ranks first. It explains the
    /// inquiry's own department; when no agent there is eligible, dispatch goes on to
    /// [`RoutingExplanation::fallback`].
    pub fn explain(&self, actor: &Actor, id: &InquiryId) -> Result<RoutingExplanation, CoreError> {
        self.authorize(actor, Permission::ViewLivechatManager)?;
        let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?.value;
        if !inquiry.status.is_unserved() {
            return Err(CoreError::IllegalTransition { from: inquiry.status, transition: TransitionKind::Assign });
        }
        let now = self.now();
        let department = self.department_record(inquiry.department.as_ref())?;
        let routing = &self.config.routing;
        let stage = routing.rules_for(department.as_ref()).stage(queue_age(&inquiry, now));
        let agents: Vec<_> = self.store.agents()?.into_iter().map(|agent| agent.value).collect();
        let queue_position = match inquiry.status.is_waiting() {
            true => Some(self.position_in_queue(&inquiry)?),
            false => None,
        };
        Ok(RoutingExplanation {
            inquiry: inquiry.id.clone(),
            status: inquiry.status,
            department: inquiry.department.clone(),
            strategy: routing.method.name().to_owned(),
            target: CurrentTarget::of(&stage, inquiry.age_key()),
            agents: verdicts(routing, &inquiry, department.as_ref(), &stage, &agents, now),
            queue_position,
            fallback: department.and_then(|d| d.fallback),
        })
    }
}
