//! Users, agents, departments and visitors: who serves, in which teams, and who is waiting.

use std::collections::BTreeSet;

use crate::event::{Actor, EventKind, NewEvent};
use crate::hours::BusinessHours;
use crate::ids::{DepartmentId, UserId, VisitorId};
use crate::limits::{self, MAX_LOGIN_TOKENS};
use crate::model::{
    Agent, AgentAvailability, Attributes, Department, DepartmentTimers, Role, User, Visitor, VisitorStatus,
};
use crate::permissions::Permission;
use crate::query::{Page, Paging};
use crate::rules::RoutingRules;
use crate::store::{Commit, Record, RecordKey, Store, StoreError, StoreExt, UniqueKey, Write};
use crate::time::Timestamp;
use crate::CoreError;

use super::Engine;

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique regardless of case; Rocket.Chat's character set.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Unique regardless of case, when given.
    pub email: Option<String>,
    /// PHC-format hash; the embedder hashes (the core does no crypto).
    pub password_hash: Option<String>,
    /// Its roles; none means `user`.
    pub roles: BTreeSet<Role>,
    /// `false` creates a deactivated user: it holds no permission and cannot sign in.
    pub active: bool,
}

impl NewUser {
    /// An active user with these roles and no email or password.
    pub fn new(username: impl Into<String>, name: impl Into<String>, roles: impl IntoIterator<Item = Role>) -> Self {
        Self {
            username: username.into(),
            name: name.into(),
            email: None,
            password_hash: None,
            roles: roles.into_iter().collect(),
            active: true,
        }
    }
}

/// A department's settings, for create and update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentSettings {
    /// Unique regardless of case.
    pub name: String,
    /// A disabled department takes no new conversations.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// The department's contact address.
    pub email: String,
    /// Offered to visitors when they register (`showOnRegistration`).
    pub show_on_registration: bool,
    /// Offered on the offline form (`showOnOfflineForm`).
    pub show_on_offline_form: bool,
    /// Per-agent chat limit for its conversations; 0 = none.
    pub max_chats_per_agent: u32,
    /// Where conversations go when no agent of this department can take them, and when they
    /// wait longer than its queue allows.
    pub fallback: Option<DepartmentId>,
    /// Its own timer values (each inherits the server-wide one unless set).
    pub timers: DepartmentTimers,
    /// Its weekly opening times; `None` = always open.
    pub business_hours: Option<BusinessHours>,
    /// Its routing rules; empty = the global default.
    pub routing_rules: RoutingRules,
}

impl DepartmentSettings {
    /// An enabled department with default settings.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            enabled: true,
            description: String::new(),
            email: String::new(),
            show_on_registration: true,
            show_on_offline_form: true,
            max_chats_per_agent: 0,
            fallback: None,
            timers: DepartmentTimers::default(),
            business_hours: None,
            routing_rules: RoutingRules::none(),
        }
    }
}

/// Changes to an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentUpdate {
    /// The agent's own chat limit; 0 = none.
    pub max_chats: Option<u32>,
    /// The departments it serves (replacing the current set).
    pub departments: Option<BTreeSet<DepartmentId>>,
    /// Its routing attributes, what rules read as `worker.` (replacing the current object).
    pub attributes: Option<Attributes>,
}

/// A visitor's details (`livechat/visitor`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitorDetails {
    /// The token its widget holds: the visitor's identity.
    pub token: String,
    /// Display name.
    pub name: Option<String>,
    /// Contact address.
    pub email: Option<String>,
    /// A department id or name.
    pub department: Option<String>,
    /// Routing attributes for its conversations (replacing any it declared before).
    pub attributes: Option<Attributes>,
}

impl<S: Store> Engine<S> {
    /// Creates a user. Needs `create-user`. Usernames and emails are unique regardless of case.
    /// A user with the `livechat-agent` role gets its (available) agent profile in the same
    /// commit: granting the role was authorised by `create-user`.
    pub fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User, CoreError> {
        self.authorize(actor, Permission::CreateUser)?;
        limits::check_username(&new.username)?;
        limits::check_name("name", &new.name)?;
        if let Some(email) = &new.email {
            limits::check_email(email)?;
        }
        let now = self.now();
        let user = User {
            id: UserId::generate(&mut rand::thread_rng()),
            username: new.username,
            name: new.name,
            email: new.email,
            roles: if new.roles.is_empty() { BTreeSet::from([Role::user()]) } else { new.roles },
            active: new.active,
            password_hash: new.password_hash,
            login_token_hashes: vec![],
            created_at: now,
            updated_at: now,
        };
        let mut writes = vec![Write::create(Record::User(user.clone()))];
        let mut events = vec![NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: None,
            kind: EventKind::UserCreated { user: user.id.clone() },
        }];
        if user.has_role(Role::LIVECHAT_AGENT) {
            let agent = Agent::new(user.id.clone(), user.username.clone(), now);
            events.push(agent_event(actor, now, &agent));
            writes.push(Write::create(Record::Agent(agent)));
        }
        self.commit(Commit { writes, events }).map_err(already_in_use)?;
        Ok(user)
    }

    /// A user by id, for the embedder (no permission check).
    pub fn user(&self, id: &UserId) -> Result<Option<User>, CoreError> {
        Ok(self.store.user(id)?.map(|u| u.value))
    }

    /// A user by username, for the embedder (no permission check).
    pub fn user_by_username(&self, username: &str) -> Result<Option<User>, CoreError> {
        Ok(self.store.user_by_username(username)?.map(|u| u.value))
    }

    /// A user by email (any case), for the embedder's sign-in (no permission check).
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>, CoreError> {
        match self.store.find(&UniqueKey::email(email))? {
            Some(found) => match found.value {
                Record::User(user) => Ok(Some(user)),
                other => Err(StoreError::Corrupt(format!("{} holds an email", other.key())).into()),
            },
            None => Ok(None),
        }
    }

    /// Forgets a login token's hash (sign-out). Forgetting an unknown token is not an error.
    pub fn remove_login_token(&self, user: &UserId, token_hash: &str) -> Result<User, CoreError> {
        self.update_user(user, |u| u.login_token_hashes.retain(|hash| hash != token_hash))
    }

    /// Remembers a login token's hash for a user, dropping the oldest beyond
    /// [`MAX_LOGIN_TOKENS`]. For the embedder's sign-in (no permission check).
    pub fn add_login_token(&self, user: &UserId, token_hash: String) -> Result<User, CoreError> {
        self.update_user(user, |u| {
            u.login_token_hashes.push(token_hash.clone());
            let excess = u.login_token_hashes.len().saturating_sub(MAX_LOGIN_TOKENS);
            u.login_token_hashes.drain(..excess);
        })
    }

    /// Changes a user's roles. Needs `create-user`.
    pub fn set_roles(&self, actor: &Actor, user: &UserId, roles: BTreeSet<Role>) -> Result<User, CoreError> {
        self.authorize(actor, Permission::CreateUser)?;
        self.update_user(user, |u| u.roles = roles.clone())
    }

    fn update_user(&self, id: &UserId, change: impl Fn(&mut User)) -> Result<User, CoreError> {
        self.retry(|| {
            let found = self.store.user(id)?.ok_or(CoreError::UserNotFound)?;
            let mut user = found.value;
            change(&mut user);
            user.updated_at = self.now();
            self.commit(Commit {
                writes: vec![Write::update(found.version, Record::User(user.clone()))],
                events: vec![],
            })?;
            Ok(user)
        })
    }

    /// Makes a user an agent (`livechat/users/agent`): adds the `livechat-agent` role and an
    /// available agent profile. Needs `view-livechat-manager`. Adding an agent twice returns it.
    pub fn add_agent(&self, actor: &Actor, username: &str) -> Result<Agent, CoreError> {
        self.authorize(actor, Permission::ViewLivechatManager)?;
        self.retry(|| {
            let user = self.store.user_by_username(username)?.ok_or(CoreError::InvalidUser)?;
            if let Some(existing) = self.store.agent(&user.value.id)? {
                return Ok(existing.value);
            }
            let now = self.now();
            let mut updated = user.value.clone();
            updated.roles.insert(Role::livechat_agent());
            updated.updated_at = now;
            let agent = Agent::new(user.value.id.clone(), user.value.username.clone(), now);
            let event = agent_event(actor, now, &agent);
            self.commit(Commit {
                writes: vec![
                    Write::update(user.version, Record::User(updated)),
                    Write::create(Record::Agent(agent.clone())),
                ],
                events: vec![event],
            })?;
            Ok(agent)
        })
    }

    /// Removes a user's agent profile and role. Needs `manage-livechat-agents`. An agent that
    /// still serves conversations is refused ([`CoreError::AgentStillServing`]): its load lives
    /// in the agent record, so deleting it would let a re-added agent go over its limit. The
    /// delete is checked against the version read, so a take racing with it cannot slip in.
    pub fn remove_agent(&self, actor: &Actor, agent_id: &UserId) -> Result<(), CoreError> {
        self.authorize(actor, Permission::ManageLivechatAgents)?;
        self.retry(|| {
            let agent = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
            let held = agent.value.chats.len() + agent.value.offers.len();
            if held > 0 {
                return Err(CoreError::AgentStillServing { conversations: u32::try_from(held).unwrap_or(u32::MAX) });
            }
            let mut writes = vec![Write::delete(RecordKey::Agent(agent_id.clone()), agent.version)];
            if let Some(user) = self.store.user(agent_id)? {
                let mut updated = user.value;
                updated.roles.retain(|r| r.as_str() != Role::LIVECHAT_AGENT);
                updated.updated_at = self.now();
                writes.push(Write::update(user.version, Record::User(updated)));
            }
            let event = NewEvent {
                at: self.now(),
                actor: actor.clone(),
                inquiry: None,
                kind: EventKind::AgentRemoved { agent: agent_id.clone() },
            };
            self.commit(Commit { writes, events: vec![event] })?;
            Ok(())
        })
    }

    /// Sets an agent's availability; `None` toggles available ↔ not-available
    /// (`livechat/agent.status`). An agent may change its own with `view-l-room`; changing
    /// another's needs `manage-livechat-agents`.
    pub fn set_agent_availability(
        &self,
        actor: &Actor,
        agent_id: &UserId,
        availability: Option<AgentAvailability>,
    ) -> Result<Agent, CoreError> {
        let own = matches!(actor, Actor::User(id) if id == agent_id);
        self.authorize(actor, if own { Permission::ViewLRoom } else { Permission::ManageLivechatAgents })?;
        let now = self.now();
        self.update_agent_with(actor, agent_id, |agent| {
            let next = availability.unwrap_or(match agent.availability {
                AgentAvailability::Available => AgentAvailability::NotAvailable,
                AgentAvailability::NotAvailable | AgentAvailability::Offline => AgentAvailability::Available,
            });
            if next == AgentAvailability::Available && agent.availability != next && !self.hours_allow(agent, now)? {
                return Err(CoreError::BusinessHoursClosed);
            }
            if next != agent.availability {
                agent.availability = next;
                agent.availability_since = now;
            }
            // A status set by hand is the agent's own: the next opening leaves it alone.
            agent.away_for_hours = false;
            Ok(())
        })
    }

    /// Changes an agent's chat limit or departments. Needs `manage-livechat-agents`.
    pub fn update_agent(&self, actor: &Actor, agent_id: &UserId, update: &AgentUpdate) -> Result<Agent, CoreError> {
        self.authorize(actor, Permission::ManageLivechatAgents)?;
        if let Some(departments) = &update.departments {
            for department in departments {
                self.store.department(department)?.ok_or(CoreError::DepartmentNotFound)?;
            }
        }
        self.update_agent_with(actor, agent_id, |agent| {
            if let Some(max) = update.max_chats {
                agent.max_chats = max;
            }
            if let Some(attributes) = &update.attributes {
                agent.attributes = attributes.clone();
            }
            if let Some(departments) = &update.departments {
                agent.departments = departments.clone();
                // Joining only closed departments: away until one opens, as if it had been
                // there at closing.
                if agent.availability == AgentAvailability::Available && !self.hours_allow(agent, self.now())? {
                    agent.availability = AgentAvailability::NotAvailable;
                    agent.availability_since = self.now();
                    agent.away_for_hours = true;
                }
            }
            Ok(())
        })
    }

    /// An agent profile (routing attributes, limit, departments): its own, with `view-l-room`; another's
    /// also needs `view-livechat-manager`.
    pub fn agent_profile(&self, actor: &Actor, agent_id: Option<&UserId>) -> Result<Agent, CoreError> {
        let agent_id = self.queue_owner(actor, agent_id)?;
        Ok(self.store.agent(&agent_id)?.ok_or(CoreError::NotAnAgent)?.value)
    }

    fn update_agent_with(
        &self,
        actor: &Actor,
        agent_id: &UserId,
        change: impl Fn(&mut Agent) -> Result<(), CoreError>,
    ) -> Result<Agent, CoreError> {
        self.retry(|| {
            let found = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
            let mut agent = found.value;
            change(&mut agent)?;
            let now = self.now();
            agent.updated_at = now;
            let event = agent_event(actor, now, &agent);
            self.commit(Commit {
                writes: vec![Write::update(found.version, Record::Agent(agent.clone()))],
                events: vec![event],
            })?;
            Ok(agent)
        })
    }

    /// An agent by id, for the embedder (no permission check).
    pub fn agent(&self, id: &UserId) -> Result<Option<Agent>, CoreError> {
        Ok(self.store.agent(id)?.map(|a| a.value))
    }

    /// A page of agents by username. Needs `view-livechat-manager`.
    pub fn list_agents(&self, actor: &Actor, paging: Paging) -> Result<Page<Agent>, CoreError> {
        self.authorize(actor, Permission::ViewLivechatManager)?;
        let mut agents: Vec<Agent> = self.store.agents()?.into_iter().map(|a| a.value).collect();
        agents.sort_by(|a, b| a.username.cmp(&b.username).then_with(|| a.id.cmp(&b.id)));
        Ok(paging.page(agents))
    }

    /// Creates a department with its agents (`livechat/department`). Needs
    /// `manage-livechat-departments`. Names are unique regardless of case.
    pub fn create_department(
        &self,
        actor: &Actor,
        settings: &DepartmentSettings,
        agents: &[UserId],
    ) -> Result<(Department, Vec<Agent>), CoreError> {
        self.authorize(actor, Permission::ManageLivechatDepartments)?;
        let id = DepartmentId::generate(&mut rand::thread_rng());
        let department = self.department_from(id, settings)?;
        self.retry(|| {
            let mut writes = vec![Write::create(Record::Department(department.clone()))];
            let mut members = Vec::with_capacity(agents.len());
            // An agent listed twice is one member (and one write: a commit writes a key once).
            let unique: BTreeSet<&UserId> = agents.iter().collect();
            for agent_id in unique {
                let found = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
                let mut agent = found.value;
                agent.departments.insert(department.id.clone());
                agent.updated_at = department.updated_at;
                writes.push(Write::update(found.version, Record::Agent(agent.clone())));
                members.push(agent);
            }
            let event = NewEvent {
                at: department.updated_at,
                actor: actor.clone(),
                inquiry: None,
                kind: EventKind::DepartmentChanged { department: department.id.clone() },
            };
            self.commit(Commit { writes, events: vec![event] }).map_err(already_in_use)?;
            Ok((department.clone(), members))
        })
    }

    /// Replaces a department's settings. Needs `manage-livechat-departments`.
    pub fn update_department(
        &self,
        actor: &Actor,
        id: &DepartmentId,
        settings: &DepartmentSettings,
    ) -> Result<Department, CoreError> {
        self.authorize(actor, Permission::ManageLivechatDepartments)?;
        self.retry(|| {
            let found = self.store.department(id)?.ok_or(CoreError::DepartmentNotFound)?;
            let mut department = self.department_from(id.clone(), settings)?;
            if department.business_hours.is_none() && found.value.business_hours.is_some() {
                // Its business-hours deadline opens it once more, for the agents it closed.
                department.hours_state = found.value.hours_state;
            }
            let event = NewEvent {
                at: department.updated_at,
                actor: actor.clone(),
                inquiry: None,
                kind: EventKind::DepartmentChanged { department: id.clone() },
            };
            self.commit(Commit {
                writes: vec![Write::update(found.version, Record::Department(department.clone()))],
                events: vec![event],
            })
            .map_err(already_in_use)?;
            Ok(department)
        })
    }

    fn department_from(&self, id: DepartmentId, settings: &DepartmentSettings) -> Result<Department, CoreError> {
        limits::check_name("name", &settings.name)?;
        if let Some(fallback) = &settings.fallback {
            if fallback == &id {
                return Err(CoreError::invalid("fallbackForwardDepartment", "a department cannot fall back to itself"));
            }
            self.store.department(fallback)?.ok_or(CoreError::DepartmentNotFound)?;
        }
        Ok(Department {
            enabled: settings.enabled,
            description: settings.description.clone(),
            email: settings.email.clone(),
            show_on_registration: settings.show_on_registration,
            show_on_offline_form: settings.show_on_offline_form,
            max_chats_per_agent: settings.max_chats_per_agent,
            fallback: settings.fallback.clone(),
            timers: settings.timers,
            // The opening or closing the new schedule calls for applies at once, by its deadline.
            business_hours: settings.business_hours.clone(),
            hours_state: None,
            routing_rules: settings.routing_rules.clone(),
            ..Department::new(id, settings.name.clone(), self.now())
        })
    }

    /// A page of departments by name. Needs `view-l-room`.
    pub fn list_departments(&self, actor: &Actor, paging: Paging) -> Result<Page<Department>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        let mut departments: Vec<Department> = self.store.departments()?.into_iter().map(|d| d.value).collect();
        departments.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(paging.page(departments))
    }

    /// Registers a visitor, or updates the one with this token (`livechat/visitor`).
    pub fn register_visitor(&self, details: &VisitorDetails) -> Result<Visitor, CoreError> {
        limits::check_token(&details.token)?;
        for (field, value) in [("name", &details.name), ("email", &details.email)] {
            if let Some(value) = value {
                limits::check_name(field, value)?;
            }
        }
        let department = match &details.department {
            Some(text) => Some(self.resolve_department(text)?.id),
            None => None,
        };
        self.retry(|| {
            let now = self.now();
            let existing = self.store.visitor_by_token(&details.token)?;
            let (write, visitor) = match existing {
                Some(found) => {
                    let mut visitor = found.value;
                    visitor.name = details.name.clone().or(visitor.name);
                    visitor.email = details.email.clone().or(visitor.email);
                    visitor.department = department.clone().or(visitor.department);
                    if let Some(attributes) = &details.attributes {
                        visitor.attributes = attributes.clone();
                    }
                    visitor.updated_at = now;
                    (Write::update(found.version, Record::Visitor(visitor.clone())), visitor)
                }
                None => {
                    let id = VisitorId::generate(&mut rand::thread_rng());
                    let visitor = Visitor {
                        username: format!("guest-{}", &id.as_str()[..8].to_lowercase()),
                        id,
                        token: details.token.clone(),
                        name: details.name.clone(),
                        email: details.email.clone(),
                        department: department.clone(),
                        status: VisitorStatus::Online,
                        open_room: None,
                        attributes: details.attributes.clone().unwrap_or_default(),
                        created_at: now,
                        updated_at: now,
                    };
                    (Write::create(Record::Visitor(visitor.clone())), visitor)
                }
            };
            self.commit(Commit { writes: vec![write], events: vec![] })?;
            Ok(visitor)
        })
    }

    /// A visitor by token, for the embedder.
    pub fn visitor_by_token(&self, token: &str) -> Result<Option<Visitor>, CoreError> {
        Ok(self.store.visitor_by_token(token)?.map(|v| v.value))
    }
}

fn agent_event(actor: &Actor, now: Timestamp, agent: &Agent) -> NewEvent {
    NewEvent {
        at: now,
        actor: actor.clone(),
        inquiry: None,
        kind: EventKind::AgentChanged {
            agent: agent.id.clone(),
            availability: agent.availability,
            reason: String::new(),
        },
    }
}

/// A unique-key clash reads better as Rocket.Chat's "… is already in use".
fn already_in_use(error: CoreError) -> CoreError {
    match error {
        CoreError::Store(StoreError::Duplicate { key }) => {
            let what = match &key {
                UniqueKey::Username(name) => name.clone(),
                UniqueKey::Email(email) => email.clone(),
                UniqueKey::DepartmentName(name) => name.clone(),
                UniqueKey::Room(rid) => rid.to_string(),
                UniqueKey::VisitorToken(_) => "token".to_owned(),
            };
            CoreError::AlreadyInUse { what }
        }
        other => other,
    }
}
