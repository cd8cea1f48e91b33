//! `chat.*`: only what livechat needs — an agent's message in a conversation.

use axum::extract::State;
use lobby_core::RoomId;
use serde_json::json;

use super::{success, Reply};
use crate::auth::AuthUser;
use crate::input::{check_object, get_str, optional, required, Additional, JsonBody, Kind};
use crate::{wire, AppState};

/// `POST chat.sendMessage {"message":{"rid","msg",…}}`: a signed-in user writes in a livechat
/// conversation — the agent serving it, or a manager. It counts as the agents' response
/// (`responseBy`), which stops the auto-transfer timer. Lobby keeps only the last message.
pub async fn send_message(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("message", Kind::Object), optional("previewUrls", Kind::StringArray)],
        Additional::Rejected,
    )?;
    let message = body["message"].as_object().cloned().unwrap_or_default();
    // Rocket.Chat's message object carries many optional fields (threads, attachments, …).
    check_object(
        &message,
        &[required("rid", Kind::String), required("msg", Kind::String), optional("_id", Kind::String)],
        Additional::Allowed,
    )?;
    let rid = RoomId::new(get_str(&message, "rid").unwrap_or_default())?;
    let msg = get_str(&message, "msg").unwrap_or_default().to_owned();
    let actor = user.actor();
    let sent = state.run(move |engine| engine.agent_message(&actor, &rid, &msg)).await?;
    Ok(success(json!({ "message": wire::message(&sent) })))
}
