//! Evidence files over HTTP: an upload read from a `multipart/form-data` body, and a download
//! served only as an attachment.
//!
//! The handlers take the disputes' access rule as a type parameter (a [`DisputeAccess`] that
//! is `Default`); the documented routes below use the stored disputes' rule, the tests a rule of
//! their own.
//!
//! An upload is idempotent by content rather than by `Idempotency-Key`: the same file from the
//! same party to the same dispute answers the file stored first (200 instead of 201).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use holdback_app::disputes::StoredDisputes;
use holdback_app::evidence::{self, DisputeAccess, Opened};
use holdback_domain::ErrorCode;
use holdback_domain::evidence::EvidenceLimits;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::reply::Reply;
use crate::{Ctx, Shared, schema};

pub(crate) fn router() -> OpenApiRouter<Arc<Shared>> {
    OpenApiRouter::new()
        .routes(routes!(add_evidence, list_evidence))
        .routes(routes!(get_file))
}

/// An upload: one part named `file`.
#[allow(dead_code)] // documents the form (derives Deserialize only to state it is closed)
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EvidenceUpload {
    /// JPEG, PNG, WebP, MP4 or PDF, recognised by its content (not its name or declared type),
    /// within the policy's size limits.
    #[schema(value_type = String, format = Binary)]
    file: String,
}

/// A party of the dispute (its buyer, its seller, the platform, its mediator) adds a file. The
/// same file from the same party answers the file added before (200).
#[utoipa::path(post, path = "/v1/disputes/{id}/evidence", tag = "disputes",
    params(("id" = String, Path)),
    request_body(content = EvidenceUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The file, added", body = schema::EvidenceFile),
        (status = 200, description = "The same file, added before", body = schema::EvidenceFile),
        schema::ActionRefusals,
    ),
    security(("api_key" = [])))]
async fn add_evidence(
    state: Ctx,
    caller: Caller,
    path: Path<String>,
    request: Request,
) -> Result<Reply, ApiError> {
    upload::<StoredDisputes>(state, caller, path, request).await
}

/// The dispute's files, in the order they came: both sides see each other's.
#[utoipa::path(get, path = "/v1/disputes/{id}/evidence", tag = "disputes",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The dispute's files", body = schema::EvidenceFileList),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn list_evidence(
    State(s): Ctx,
    Caller(principal): Caller,
    Path(dispute_id): Path<String>,
) -> Result<Reply, ApiError> {
    let files = evidence::list(&s.app, &StoredDisputes, &principal, &dispute_id).await?;
    let url = format!("/v1/disputes/{dispute_id}/evidence");
    Ok(Reply::list(
        &url,
        files.iter().map(evidence::view).collect(),
        false,
    ))
}

/// A file's content, only as an attachment (`X-Content-Type-Options: nosniff`), only to the
/// parties of its dispute and its mediator.
#[utoipa::path(get, path = "/v1/files/{id}", tag = "disputes", params(("id" = String, Path)),
    responses(
        (status = 200, description = "The file's content", content(
            (String = "image/jpeg"), (String = "image/png"), (String = "image/webp"),
            (String = "video/mp4"), (String = "application/pdf"),
        )),
        schema::GetRefusals,
    ),
    security(("api_key" = [])))]
async fn get_file(state: Ctx, caller: Caller, path: Path<String>) -> Result<Response, ApiError> {
    download::<StoredDisputes>(state, caller, path).await
}

/// The part of an upload that holds the file.
pub(crate) const FILE_PART: &str = "file";

/// Room for the multipart framing (boundaries, part headers) beyond the largest file.
const FRAMING: u64 = 16 * 1024;

/// The most an upload's body may be: the largest file the policy allows, plus its framing.
pub(crate) fn body_limit(limits: &EvidenceLimits) -> u64 {
    limits.largest_file().saturating_add(FRAMING)
}

/// An uploaded file: the name the client gave and its bytes.
#[derive(Debug)]
pub(crate) struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

fn malformed(what: impl std::fmt::Display) -> ApiError {
    ApiError::param(
        ErrorCode::ParameterInvalid,
        FILE_PART,
        format!("the multipart body is malformed: {what}"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::param(
        ErrorCode::EvidenceTooLarge,
        FILE_PART,
        format!("the upload is over {limit} bytes, more than any evidence file may be"),
    )
}

/// Reads a `multipart/form-data` body with exactly one part, named `file`, carrying a file
/// name. The body is read as it streams and cut off past `limit` bytes (`evidence_too_large`),
/// so an oversized upload is never held whole. Any other part is `unknown_parameter`; no `file`
/// part is `parameter_missing`; another content type is `unsupported_media_type`.
pub(crate) async fn read_upload(request: Request, limit: u64) -> Result<Upload, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_form_data = content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"));
    let boundary = multer::parse_boundary(content_type)
        .ok()
        .filter(|_| is_form_data)
        .ok_or_else(|| {
            ApiError::code(
                ErrorCode::UnsupportedMediaType,
                "send the file as multipart/form-data, in one part named file",
            )
        })?;
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit));
    let stream = request.into_body().into_data_stream();
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut upload = None;
    let refused = |e: multer::Error| match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        other => malformed(other),
    };
    while let Some(mut part) = parts.next_field().await.map_err(refused)? {
        let name = part.name().unwrap_or_default().to_string();
        if name != FILE_PART {
            return Err(ApiError::param(
                ErrorCode::UnknownParameter,
                name.clone(),
                format!("unknown part {name:?}: send one part, named file"),
            ));
        }
        if upload.is_some() {
            return Err(malformed("one file per request"));
        }
        let file_name = part
            .file_name()
            .ok_or_else(|| malformed("the file part has no filename"))?
            .to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = part.chunk().await.map_err(refused)? {
            bytes.extend_from_slice(&chunk);
        }
        upload = Some(Upload { file_name, bytes });
    }
    upload.ok_or_else(|| {
        ApiError::param(
            ErrorCode::ParameterMissing,
            FILE_PART,
            "missing part file: send the file in a part named file",
        )
    })
}

/// `filename` for `Content-Disposition`: printable ASCII, with `"` and `\` and everything else
/// replaced by `_` (the exact name is in `filename*`).
fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect()
}

/// `filename*` for `Content-Disposition`: the UTF-8 name percent-encoded (RFC 8187).
fn encoded_name(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file's content as a download: its sniffed type, `Content-Disposition: attachment` with its
/// cleaned name, `X-Content-Type-Options: nosniff`, and a sandboxing content security policy,
/// so a browser saves it and never renders it as a page of the API's origin.
pub(crate) fn attachment(opened: Opened) -> Response {
    let f = &opened.file;
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_name(&f.file_name),
        encoded_name(&f.file_name)
    );
    let mut response = Body::from(opened.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(f.kind.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// `POST /v1/disputes/{id}/evidence`: adds the uploaded file to the dispute (201), or answers
/// the same file added before by the same party (200).
pub(crate) async fn upload<A: DisputeAccess + Default>(
    State(s): Ctx,
    Caller(principal): Caller,
    Path(dispute_id): Path<String>,
    request: Request,
) -> Result<Reply, ApiError> {
    let limit = body_limit(&s.app.policy.evidence);
    let file = read_upload(request, limit).await?;
    let added = evidence::add(
        &s.app,
        &A::default(),
        &principal,
        &dispute_id,
        &file.file_name,
        file.bytes,
    )
    .await?;
    let status = if added.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Reply::new(status, evidence::view(&added.file)))
}

/// `GET /v1/files/{id}`: the file's content as an attachment, for its dispute's parties.
pub(crate) async fn download<A: DisputeAccess + Default>(
    State(s): Ctx,
    Caller(principal): Caller,
    Path(file_id): Path<String>,
) -> Result<Response, ApiError> {
    let opened = evidence::open(&s.app, &A::default(), &principal, &file_id).await?;
    Ok(attachment(opened))
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
