//! `GET /v1/events`: the event log, which webhooks deliver too.

use std::sync::Arc;

use axum::extract::State;
use holdback_app::{AppError, Role, views};
use holdback_store::Cursor;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::params::Page;
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// The event log, oldest first (platform only). Webhooks deliver the same events.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(schema::PageParams),
    responses(
        (status = 200, description = "A page of events", body = schema::EventList),
        (status = "4XX", description = "Refused", body = schema::ErrorBody),
    ),
    security(("api_key" = [])))]
async fn list_events(State(s): Ctx, Caller(who): Caller, page: Page) -> Result<Reply, ApiError> {
    if who.role != Role::Platform {
        return Err(ApiError::code(
            "not_permitted",
            "only the platform reads the event log",
        ));
    }
    let limit = page.limit().clamp(1, 100);
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
            .ok_or_else(|| ApiError::param("resource_missing", param, "no such event"))?
    };
    let store = &s.app.store;
    let mut events = if backward {
        store.events_before(at, who.livemode, limit + 1).await
    } else {
        store.events_after(at, who.livemode, limit + 1).await
    }
    .map_err(AppError::from)?;
    let has_more = events.len() > limit as usize;
    if has_more && backward {
        events.remove(0);
    } else {
        events.truncate(limit as usize);
    }
    let data = events.iter().map(views::event).collect();
    Ok(Reply::list("/v1/events", data, has_more))
}
