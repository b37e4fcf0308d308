//! `GET /v1/events`: the event log, which webhooks deliver too; `GET /v1/events/{id}`: one
//! event (how a receiver fetches an event whose webhook body was sent without its object).

use std::sync::Arc;

use axum::extract::{Path, State};
use holdback_app::{AppError, Role, views};
use holdback_domain::ErrorCode;
use holdback_store::Cursor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::params::Page;
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
}

/// The event log, oldest first (platform only). Webhooks deliver the same events.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of events", body = schema::EventList),
        schema::PlatformListRefusals,
    ),
    security(("api_key" = [])))]
async fn list_events(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    if who.role != Role::Platform {
        return Err(ApiError::code(
            ErrorCode::NotPermitted,
            "only the platform reads the event log",
        ));
    }
    let limit = page.limit()?;
    let (id, backward) = match page.cursor()? {
        Cursor::After(id) => (id, false),
        Cursor::Before(id) => (id, true),
    };
    let at = if id.is_empty() {
        0
    } else {
        let param = if backward {
            "ending_before"
        } else {
            "starting_after"
        };
        s.app
            .store
            .event_seq(id)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| ApiError::param(ErrorCode::ResourceMissing, param, "no such event"))?
    };
    // With both cursors, the events between them.
    let end = match (&page.starting_after, &page.ending_before) {
        (Some(_), Some(before)) if !before.is_empty() => Some(
            s.app
                .store
                .event_seq(before)
                .await
                .map_err(AppError::from)?
                .ok_or_else(|| {
                    ApiError::param(ErrorCode::ResourceMissing, "ending_before", "no such event")
                })?,
        ),
        _ => None,
    };
    let store = &s.app.store;
    let mut events = if backward {
        store.events_before(at, who.livemode, limit + 1).await
    } else {
        store.events_after(at, who.livemode, limit + 1).await
    }
    .map_err(AppError::from)?;
    if let Some(end) = end {
        events.retain(|e| e.seq < end);
    }
    let has_more = events.len() > limit as usize;
    if has_more && backward {
        events.remove(0);
    } else {
        events.truncate(limit as usize);
    }
    let data = events.iter().map(views::event).collect();
    Ok(Reply::list("/v1/events", data, has_more))
}

/// One event (platform only). A webhook whose event was too large to send whole carries
/// `"data_omitted": true`; this reads the whole event. Another mode's event answers 404.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The event", body = schema::Event),
        schema::PlatformGetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_event(
    State(s): Ctx,
    Path(id): Path<String>,
    Caller(who): Caller,
) -> Result<Reply, ApiError> {
    if who.role != Role::Platform {
        return Err(ApiError::code(
            ErrorCode::NotPermitted,
            "only the platform reads the event log",
        ));
    }
    let store = &s.app.store;
    let seq = store.event_seq(&id).await.map_err(AppError::from)?;
    let event = match seq {
        Some(seq) => store.event_at(seq).await.map_err(AppError::from)?,
        None => None,
    };
    match event {
        Some(e) if e.event.livemode == who.livemode => Ok(Reply::ok(views::event(&e))),
        _ => Err(AppError::NotFound.into()),
    }
}
