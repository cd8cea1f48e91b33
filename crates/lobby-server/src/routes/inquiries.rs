//! `livechat/inquiries.*`.

use axum::extract::State;
use axum::Json;
use lobby_core::{
    Attributes, DepartmentId, Inquiry, InquiryId, InquiryStatus, ListRequest, Permission, QueueRequest, RoomId,
    TransferTarget, UserId,
};
use serde::Serialize;
use serde_json::json;

use super::{paged, success, Page, Reply};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{check_object, get_str, optional, required, Additional, JsonBody, Kind, QueryParams};
use crate::wire::{InquiryListItem, InquiryReply};
use crate::{wire, AppState};

const STATUSES: &[&str] = &["queued", "open", "offered", "taken", "closed"];

/// `GET livechat/inquiries.list?offset&count&sort&department&status`: every inquiry of one
/// status (default `open`), optionally of one department (id or name). Needs
/// `view-livechat-manager`.
pub async fn list(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply<Page<InquiryListItem>> {
    query.check_paged(&[optional("department", Kind::String), optional("status", Kind::OneOf(STATUSES))])?;
    let paging = query.paging();
    let request = ListRequest {
        status: match query.get("status") {
            Some(status) => status.parse::<InquiryStatus>()?,
            None => InquiryStatus::Open,
        },
        // Rocket.Chat treats an empty department as none.
        department: query.get("department").filter(|d| !d.is_empty()).map(str::to_owned),
        sort: query.sort()?.unwrap_or_default(),
        paging,
    };
    let actor = user.actor();
    let page = state.run(move |engine| engine.list(&actor, &request)).await?;
    Ok(paged("inquiries", page.items.into_iter().map(InquiryListItem).collect(), paging, page.total))
}

/// `POST livechat/inquiries.take {"inquiryId","userId"?}`: takes an open inquiry for the caller
/// or, with `userId`, for that agent. Exactly one of concurrent takes succeeds. Needs
/// `view-l-room` (and the agent taken for needs it too).
pub async fn take(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply<InquiryReply> {
    check_object(
        &body,
        &[required("inquiryId", Kind::String), optional("userId", Kind::NullableString)],
        Additional::Rejected,
    )?;
    let inquiry_id = InquiryId::new(get_str(&body, "inquiryId").unwrap_or_default())?;
    // An empty userId means "myself", as in Rocket.Chat; one that cannot exist is invalid.
    let on_behalf = match get_str(&body, "userId").filter(|id| !id.is_empty()) {
        Some(id) => Some(UserId::new(id).map_err(|_| lobby_core::CoreError::InvalidUser)?),
        None => None,
    };
    let actor = user.actor();
    let inquiry = state.run(move |engine| engine.take(&actor, &inquiry_id, on_behalf.as_ref())).await?;
    metrics::counter!("lobby_takes_total").increment(1);
    Ok(Json(InquiryReply::new(Some(inquiry))))
}

/// `GET livechat/inquiries.getOne?roomId=`: the room's inquiry, or `null`. Needs `view-l-room`.
pub async fn get_one(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply<InquiryReply> {
    query.check(&[required("roomId", Kind::String)])?;
    let Ok(rid) = RoomId::new(query.get("roomId").unwrap_or_default()) else {
        // No room can have this id; answer like any other missing room.
        if !state.engine().allows(&user.0, Permission::ViewLRoom) {
            return Err(ApiError::forbidden());
        }
        return Ok(Json(InquiryReply::new(None)));
    };
    let actor = user.actor();
    let inquiry = state.run(move |engine| engine.inquiry_by_room(&actor, &rid)).await?;
    Ok(Json(InquiryReply::new(inquiry)))
}

/// `GET livechat/inquiries.queuedForUser?offset&count&sort&department`: what the caller may take
/// now: open inquiries of its departments and of the public queue, minus those reserved for
/// other agents, in queue order. Needs `view-l-room`; the caller must be an agent.
pub async fn queued_for_user(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply<QueuedPage> {
    query.check_paged(&[optional("department", Kind::String)])?;
    let paging = query.paging();
    let request = QueueRequest {
        agent: None,
        department: query.get("department").filter(|d| !d.is_empty()).map(str::to_owned),
        sort: query.sort()?,
        paging,
    };
    let actor = user.actor();
    let (page, offers) = state
        .run(move |engine| Ok((engine.queued_for_user(&actor, &request)?, engine.pending_offers(&actor, None)?)))
        .await?;
    Ok(Json(QueuedPage { page: paged("inquiries", page.items, paging, page.total).0, offers }))
}

/// `queuedForUser`'s answer: the page, and (Lobby's) what is offered to this agent, each with
/// `offer.expiresAt`.
#[derive(Debug, Serialize)]
pub struct QueuedPage {
    #[serde(flatten)]
    page: Page<Inquiry>,
    offers: Vec<Inquiry>,
}

/// `POST livechat/inquiries.acceptOffer {"inquiryId"}` (Lobby's, offer mode): the acting agent
/// accepts the conversation offered to it. Needs `view-l-room`.
pub async fn accept_offer(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("inquiryId", Kind::String)], Additional::Rejected)?;
    let inquiry_id = InquiryId::new(get_str(&body, "inquiryId").unwrap_or_default())?;
    let actor = user.actor();
    let inquiry = state.run(move |engine| engine.accept_offer(&actor, &inquiry_id)).await?;
    Ok(success(json!({ "inquiry": wire::inquiry(&inquiry) })))
}

/// `POST livechat/inquiries.rejectOffer {"inquiryId","comment"?}` (Lobby's, offer mode): the
/// acting agent declines; the conversation is offered to the next agent or waits. Needs
/// `view-l-room`.
pub async fn reject_offer(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("inquiryId", Kind::String), optional("comment", Kind::NullableString)],
        Additional::Rejected,
    )?;
    let inquiry_id = InquiryId::new(get_str(&body, "inquiryId").unwrap_or_default())?;
    let comment = get_str(&body, "comment").unwrap_or_default().to_owned();
    let actor = user.actor();
    let inquiry = state.run(move |engine| engine.reject_offer(&actor, &inquiry_id, &comment)).await?;
    state.request_dispatch();
    Ok(success(json!({ "inquiry": wire::inquiry(&inquiry) })))
}

/// `POST livechat/inquiries.returnAsInquiry {"roomId","departmentId"?}`: puts a taken
/// conversation back in the queue (keeping its age), or with `departmentId` in that
/// department's queue (a transfer, which needs `transfer-livechat-guest`).
pub async fn return_as_inquiry(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("roomId", Kind::String), optional("departmentId", Kind::NullableString)],
        Additional::Rejected,
    )?;
    let rid = RoomId::new(get_str(&body, "roomId").unwrap_or_default())?;
    let department = match get_str(&body, "departmentId").filter(|d| !d.is_empty()) {
        Some(id) => Some(DepartmentId::new(id)?),
        None => None,
    };
    let actor = user.actor();
    let inquiry = state
        .run(move |engine| match department {
            Some(department) => engine.transfer(&actor, &rid, &TransferTarget::Department(department), ""),
            None => engine.return_to_queue(&actor, &rid),
        })
        .await?;
    state.request_dispatch();
    Ok(success(json!({ "result": true, "inquiry": wire::inquiry(&inquiry) })))
}

/// `GET livechat/inquiries.position?roomId=` (Lobby's own): where a waiting conversation stands
/// in its department's queue and the estimated wait. Needs `view-l-room`.
pub async fn position(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&[required("roomId", Kind::String)])?;
    let rid = RoomId::new(query.get("roomId").unwrap_or_default())?;
    let actor = user.actor();
    let (inquiry, position) = state
        .run(move |engine| {
            let inquiry = engine.inquiry_by_room(&actor, &rid)?.ok_or(lobby_core::CoreError::RoomNotFound)?;
            let position = engine.queue_position(&actor, &inquiry.id)?;
            Ok((inquiry, position))
        })
        .await?;
    Ok(success(json!({
        "inquiryId": inquiry.id,
        "rid": inquiry.rid,
        "position": position.position,
        "estimatedWaitTimeSeconds": position.estimated_wait.map(|d| d.as_secs()),
    })))
}

/// `GET livechat/inquiries.explain?inquiryId=` (Lobby's own): why a conversation waits and
/// who routing would give it to: the routing target in force and when it relaxes, every agent
/// eligible with its rank or the first reason it is not, and the queue position. Needs
/// `view-livechat-manager`.
pub async fn explain(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&[required("inquiryId", Kind::String)])?;
    let inquiry_id = InquiryId::new(query.get("inquiryId").unwrap_or_default())?;
    let actor = user.actor();
    let explanation = state.run(move |engine| engine.explain(&actor, &inquiry_id)).await?;
    Ok(success(wire::explanation(&explanation)))
}

/// `POST livechat/inquiries.setAttributes {"inquiryId","attributes"}` (Lobby's own): replaces
/// the routing attributes of a conversation that is not closed. Needs
/// `transfer-livechat-guest`.
pub async fn set_attributes(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("inquiryId", Kind::String), required("attributes", Kind::Object)],
        Additional::Rejected,
    )?;
    let inquiry_id = InquiryId::new(get_str(&body, "inquiryId").unwrap_or_default())?;
    let attributes = Attributes::new(body["attributes"].clone())?;
    let actor = user.actor();
    let inquiry = state.run(move |engine| engine.set_inquiry_attributes(&actor, &inquiry_id, &attributes)).await?;
    state.request_dispatch();
    Ok(success(json!({ "inquiry": wire::inquiry(&inquiry) })))
}

#[cfg(test)]
mod tests {
    use lobby_core::InquiryStatus;

    #[test]
    fn the_status_filter_accepts_every_status() {
        assert_eq!(super::STATUSES, InquiryStatus::ALL.map(InquiryStatus::as_str));
    }
}
