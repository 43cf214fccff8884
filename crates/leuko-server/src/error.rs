//! Errors as JSON responses: a stable code, a message naming the field, the field itself.
//! 4xx for the caller's mistakes; a 5xx body is opaque (its cause goes to the log only).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the caller.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

/// Every error answer's body.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error object.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorDetail {
    /// Stable code: `invalid_input`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `precondition_failed` (CDS Hooks prefetch missing),
    /// `payload_too_large`, `internal`.
    #[schemars(extend("enum" = [
        "invalid_input", "unauthorized", "forbidden", "not_found", "method_not_allowed",
        "conflict", "precondition_failed", "payload_too_large", "internal"
    ]))]
    pub code: String,
    /// What is wrong, naming the field and the value.
    pub message: String,
    /// The field, when one is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// Bad input, naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_input",
            message: message.into(),
            field: Some(field.into()),
        }
    }
    /// Missing or unknown key.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "an API key is needed: send `Authorization: Bearer KEY` (create one with `leuko keys create`)".to_owned(),
            field: Some("Authorization".to_owned()),
        }
    }
    /// A CDS client's bearer JWT that fails a check: the field names the header field or
    /// claim (`alg`, `iss`, `aud`, `exp`, …).
    pub fn unauthorized_claim(claim: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            field: Some(claim.to_owned()),
        }
    }
    /// A key without the role.
    pub fn forbidden(role: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("this key lacks the {role} role"),
            field: None,
        }
    }
    /// Nothing there.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: what.into(),
            field: None,
        }
    }
    /// A request body over [`crate::BODY_LIMIT`].
    pub fn payload_too_large() -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: format!(
                "the request body is larger than {} bytes",
                crate::BODY_LIMIT
            ),
            field: None,
        }
    }
    /// A method the route does not serve (axum keeps the `Allow` header).
    pub fn method_not_allowed() -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: "this route does not serve that method".to_owned(),
            field: None,
        }
    }
    /// A conflicting write.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
            field: None,
        }
    }
    /// An internal fault: logged with its cause, answered opaquely.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(cause = %cause, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; it has been logged".to_owned(),
            field: None,
        }
    }
}

impl From<leuko_store::StoreError> for ApiError {
    fn from(e: leuko_store::StoreError) -> ApiError {
        match e {
            leuko_store::StoreError::NotFound(what) => ApiError::not_found(what),
            leuko_store::StoreError::Conflict(what) => ApiError::conflict(what),
            leuko_store::StoreError::Database(cause) => ApiError::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// The answer to a panic inside a handler: opaque, logged.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}
