//! The handlers, grouped as Rocket.Chat groups its REST files, and the one table of routes that
//! both builds the router and tells tests (the fuzzer, the bad-input sweep) what to exercise.

pub mod chat;
pub mod inquiries;
pub mod livechat;
pub mod stats;
pub mod stream;
pub mod users;

use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use lobby_core::Paging;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;

/// Whether a route needs a signed-in user (`X-User-Id` and `X-Auth-Token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in and the visitor routes.
    Public,
    /// A signed-in user; otherwise 401.
    SignedIn,
}

/// What a route answers with when it succeeds (errors are always JSON envelopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// `application/json`: the API.
    Json,
    /// `text/event-stream`: a stream that does not end by itself.
    EventStream,
    /// `text/html`: the console.
    Html,
    /// `text/css`.
    Css,
    /// `text/javascript`.
    JavaScript,
    /// `text/plain`: Prometheus' text format.
    Text,
}

impl Content {
    /// The media type of a successful answer.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::EventStream => "text/event-stream",
            Self::Html => "text/html",
            Self::Css => "text/css",
            Self::JavaScript => "text/javascript",
            Self::Text => "text/plain",
        }
    }
}

/// One route of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path: `/api/v1/…` for the API, `/` and `/console/…` for the console, `/metrics`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it answers with.
    pub content: Content,
}

/// Declares every route once: [`ROUTES`] and [`router`] come from the same list, so a route
/// cannot be served without being listed (and exercised by the tests that walk the list).
macro_rules! api_routes {
    ($(($method:ident $path:literal $access:ident $($content:ident)? => $handler:path)),* $(,)?) => {
        /// Every route the server answers, in the order they are declared.
        pub const ROUTES: &[Route] = &[$(Route {
            method: api_routes!(@name $method),
            path: $path,
            access: Access::$access,
            content: api_routes!(@content $($content)?),
        }),*];

        /// The router for [`ROUTES`].
        pub fn router() -> Router<AppState> {
            let router = Router::new();
            $(let router = router.route($path, api_routes!(@handler $method $handler));)*
            router
        }
    };
    (@content) => { Content::Json };
    (@content $content:ident) => { Content::$content };
    (@name get) => { "GET" };
    (@name post) => { "POST" };
    (@name put) => { "PUT" };
    (@handler get $handler:path) => { get($handler) as MethodRouter<AppState> };
    (@handler post $handler:path) => { post($handler) as MethodRouter<AppState> };
    (@handler put $handler:path) => { put($handler) as MethodRouter<AppState> };
}

api_routes! {
    (post "/api/v1/login" Public => users::login),
    (post "/api/v1/logout" SignedIn => users::logout),
    (post "/api/v1/users.logout" SignedIn => users::logout_everywhere),
    (get "/api/v1/me" SignedIn => users::me),
    (post "/api/v1/users.create" SignedIn => users::create),
    (get "/api/v1/livechat/inquiries.list" SignedIn => inquiries::list),
    (post "/api/v1/livechat/inquiries.take" SignedIn => inquiries::take),
    (get "/api/v1/livechat/inquiries.getOne" SignedIn => inquiries::get_one),
    (get "/api/v1/livechat/inquiries.queuedForUser" SignedIn => inquiries::queued_for_user),
    (post "/api/v1/livechat/inquiries.returnAsInquiry" SignedIn => inquiries::return_as_inquiry),
    (post "/api/v1/livechat/inquiries.acceptOffer" SignedIn => inquiries::accept_offer),
    (post "/api/v1/livechat/inquiries.rejectOffer" SignedIn => inquiries::reject_offer),
    (get "/api/v1/livechat/inquiries.position" SignedIn => inquiries::position),
    (get "/api/v1/livechat/inquiries.explain" SignedIn => inquiries::explain),
    (post "/api/v1/livechat/inquiries.setAttributes" SignedIn => inquiries::set_attributes),
    (get "/api/v1/livechat/users/agent" SignedIn => livechat::list_agents),
    (post "/api/v1/livechat/users/agent" SignedIn => livechat::add_agent),
    (get "/api/v1/livechat/department" SignedIn => livechat::list_departments),
    (post "/api/v1/livechat/department" SignedIn => livechat::create_department),
    (put "/api/v1/livechat/department/{_id}" SignedIn => livechat::update_department),
    (post "/api/v1/livechat/agent.status" SignedIn => livechat::agent_status),
    (get "/api/v1/livechat/agent.attributes" SignedIn => livechat::agent_attributes),
    (post "/api/v1/livechat/agent.attributes" SignedIn => livechat::set_agent_attributes),
    (post "/api/v1/livechat/visitor" Public => livechat::register_visitor),
    (get "/api/v1/livechat/room" Public => livechat::room),
    (post "/api/v1/livechat/room.close" Public => livechat::close_by_visitor),
    (post "/api/v1/livechat/room.closeByUser" SignedIn => livechat::close_by_user),
    (post "/api/v1/livechat/room.forward" SignedIn => livechat::forward),
    (post "/api/v1/livechat/room.onHold" SignedIn => livechat::on_hold),
    (post "/api/v1/livechat/room.resumeOnHold" SignedIn => livechat::resume_on_hold),
    (post "/api/v1/livechat/message" Public => livechat::visitor_message),
    (post "/api/v1/chat.sendMessage" SignedIn => chat::send_message),
    (get "/api/v1/livechat/inquiries.stream" SignedIn EventStream => stream::stream),
    (post "/api/v1/livechat/inquiries.streamTicket" SignedIn => stream::ticket),
    (get "/api/v1/livechat/queue" SignedIn => stats::queue),
    (get "/api/v1/livechat/inquiries.stats" SignedIn => stats::stats),
    (get "/api/v1/livechat/inquiries.history" SignedIn => stats::history),
    (get "/metrics" Public Text => crate::metrics::render),
    (get "/" Public Html => crate::console::index),
    (get "/console/console.css" Public Css => crate::console::stylesheet),
    (get "/console/console.js" Public JavaScript => crate::console::script),
}

impl Route {
    /// Whether a request path is this route's: each `{param}` segment of the route matches any
    /// one non-empty segment.
    pub fn matches(&self, path: &str) -> bool {
        let mut wanted = self.path.split('/');
        let mut given = path.split('/');
        loop {
            match (wanted.next(), given.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// The methods a path answers to (empty: an unknown path).
pub fn methods_of(path: &str) -> Vec<&'static str> {
    ROUTES.iter().filter(|route| route.matches(path)).map(|route| route.method).collect()
}

/// A success body: the payload's fields with `"success": true` beside them.
pub fn success(mut body: Value) -> Json<Value> {
    if let Value::Object(map) = &mut body {
        map.insert("success".into(), Value::Bool(true));
    }
    Json(body)
}

/// A page of a listing, as Rocket.Chat writes it: `{"<key>": [...], "offset", "count", "total",
/// "success": true}`, where `count` is how many this page holds and `total` how many match.
/// Serialised straight from its items, with no `serde_json::Value` built in between.
pub fn paged<T: Serialize>(key: &'static str, items: Vec<T>, paging: Paging, total: usize) -> Json<Page<T>> {
    Json(Page { key, items, offset: paging.offset, total })
}

/// The body [`paged`] answers with.
#[derive(Debug)]
pub struct Page<T> {
    key: &'static str,
    items: Vec<T>,
    offset: usize,
    total: usize,
}

impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry(self.key, &self.items)?;
        map.serialize_entry("offset", &self.offset)?;
        map.serialize_entry("count", &self.items.len())?;
        map.serialize_entry("total", &self.total)?;
        map.serialize_entry("success", &true)?;
        map.end()
    }
}

/// What a handler returns: a success body (by default any JSON value) or an error envelope.
pub type Reply<T = Value> = Result<Json<T>, crate::ApiError>;
