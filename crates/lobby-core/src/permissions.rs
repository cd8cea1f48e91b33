//! Who may do what. Users hold roles; a [`PermissionPolicy`] maps each permission to the roles
//! that grant it. The defaults follow Rocket.Chat's; embedders may change the mapping.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Role, User};

/// The permissions the engine checks, named as in Rocket.Chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// List every inquiry (`inquiries.list`) and see agents.
    ViewLivechatManager,
    /// Take, get one, see the own queue.
    ViewLRoom,
    /// Transfer a conversation, or return someone else's to the queue.
    TransferLivechatGuest,
    /// Close a conversation one serves.
    CloseLivechatRoom,
    /// Close a conversation someone else serves.
    CloseOthersLivechatRoom,
    /// Add and remove agents, change another agent's status and limits.
    ManageLivechatAgents,
    /// Create and change departments.
    ManageLivechatDepartments,
    /// Create users.
    CreateUser,
    /// Run routing (release and assign queued inquiries) on demand.
    ViewLivechatQueue,
    /// Put a conversation one serves on hold.
    OnHoldLivechatRoom,
    /// Put on hold, or resume, a conversation someone else serves.
    OnHoldOthersLivechatRoom,
    /// Take a conversation whose routing rules the serving agent does not match (Lobby's).
    OverrideRoutingRules,
}

impl Permission {
    /// Every permission, for tables and checks.
    pub const ALL: [Permission; 12] = [
        Self::ViewLivechatManager,
        Self::ViewLRoom,
        Self::TransferLivechatGuest,
        Self::CloseLivechatRoom,
        Self::CloseOthersLivechatRoom,
        Self::ManageLivechatAgents,
        Self::ManageLivechatDepartments,
        Self::CreateUser,
        Self::ViewLivechatQueue,
        Self::OnHoldLivechatRoom,
        Self::OnHoldOthersLivechatRoom,
        Self::OverrideRoutingRules,
    ];

    /// Rocket.Chat's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewLivechatManager => "view-livechat-manager",
            Self::ViewLRoom => "view-l-room",
            Self::TransferLivechatGuest => "transfer-livechat-guest",
            Self::CloseLivechatRoom => "close-livechat-room",
            Self::CloseOthersLivechatRoom => "close-others-livechat-room",
            Self::ManageLivechatAgents => "manage-livechat-agents",
            Self::ManageLivechatDepartments => "manage-livechat-departments",
            Self::CreateUser => "create-user",
            Self::ViewLivechatQueue => "view-livechat-queue",
            Self::OnHoldLivechatRoom => "on-hold-livechat-room",
            Self::OnHoldOthersLivechatRoom => "on-hold-others-livechat-room",
            Self::OverrideRoutingRules => "override-routing-rules",
        }
    }

    fn default_roles(self) -> &'static [&'static str] {
        const MANAGERS: &[&str] = &[Role::ADMIN, Role::LIVECHAT_MANAGER];
        const STAFF: &[&str] = &[Role::ADMIN, Role::LIVECHAT_MANAGER, Role::LIVECHAT_AGENT];
        match self {
            Self::ViewLivechatManager
            | Self::TransferLivechatGuest
            | Self::CloseOthersLivechatRoom
            | Self::ManageLivechatAgents
            | Self::ManageLivechatDepartments
            | Self::OnHoldOthersLivechatRoom
            | Self::OverrideRoutingRules => MANAGERS,
            Self::ViewLRoom | Self::CloseLivechatRoom | Self::ViewLivechatQueue | Self::OnHoldLivechatRoom => STAFF,
            Self::CreateUser => &[Role::ADMIN],
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which roles grant which permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionPolicy {
    grants: BTreeMap<Permission, BTreeSet<Role>>,
}

impl Default for PermissionPolicy {
    /// Rocket.Chat's defaults: managers see and manage everything, agents serve.
    fn default() -> Self {
        let grants = Permission::ALL
            .into_iter()
            .map(|p| (p, p.default_roles().iter().map(|r| Role::new(*r).expect("static role name")).collect()))
            .collect();
        Self { grants }
    }
}

impl PermissionPolicy {
    /// A policy that grants nothing, to build up from scratch.
    pub fn empty() -> Self {
        Self { grants: BTreeMap::new() }
    }

    /// Lets `role` hold `permission`.
    pub fn grant(&mut self, permission: Permission, role: Role) -> &mut Self {
        self.grants.entry(permission).or_default().insert(role);
        self
    }

    /// Takes `permission` from `role`.
    pub fn revoke(&mut self, permission: Permission, role: &Role) -> &mut Self {
        if let Some(roles) = self.grants.get_mut(&permission) {
            roles.remove(role);
        }
        self
    }

    /// The roles that hold `permission`.
    pub fn roles_granting(&self, permission: Permission) -> impl Iterator<Item = &Role> {
        self.grants.get(&permission).into_iter().flatten()
    }

    /// Deactivated users hold no permission at all.
    pub fn allows(&self, user: &User, permission: Permission) -> bool {
        user.active
            && self.grants.get(&permission).is_some_and(|roles| user.roles.iter().any(|role| roles.contains(role)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::time::Timestamp;

    fn user(roles: &[&str], active: bool) -> User {
        User {
            id: UserId::new("u1").unwrap(),
            username: "u1".into(),
            name: "U".into(),
            email: None,
            roles: roles.iter().map(|r| Role::new(*r).unwrap()).collect(),
            active,
            password_hash: None,
            login_token_hashes: vec![],
            created_at: Timestamp::EPOCH,
            updated_at: Timestamp::EPOCH,
        }
    }

    #[test]
    fn defaults_follow_rocket_chat() {
        let policy = PermissionPolicy::default();
        let agent = user(&["livechat-agent"], true);
        let manager = user(&["livechat-manager"], true);
        let plain = user(&["user"], true);
        assert!(policy.allows(&agent, Permission::ViewLRoom));
        assert!(!policy.allows(&agent, Permission::ViewLivechatManager));
        assert!(policy.allows(&manager, Permission::ViewLivechatManager));
        assert!(!policy.allows(&plain, Permission::ViewLRoom));
        assert!(!policy.allows(&manager, Permission::CreateUser));
        assert!(policy.allows(&user(&["admin"], true), Permission::CreateUser));
    }

    #[test]
    fn inactive_users_hold_nothing_and_the_mapping_is_configurable() {
        let mut policy = PermissionPolicy::default();
        assert!(!policy.allows(&user(&["admin"], false), Permission::ViewLRoom));
        let bot = Role::new("bot").unwrap();
        policy.grant(Permission::ViewLRoom, bot.clone());
        assert!(policy.allows(&user(&["bot"], true), Permission::ViewLRoom));
        policy.revoke(Permission::ViewLRoom, &bot);
        assert!(!policy.allows(&user(&["bot"], true), Permission::ViewLRoom));
    }
}
