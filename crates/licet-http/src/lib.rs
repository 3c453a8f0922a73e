//! The HTTP vocabulary the server and the agent share, so that both answer a malformed
//! request the same way and serve their OpenAPI documents the same way: the extractors
//! [`Body`] (a JSON object), [`Id`] (path parameters) and [`Query`] (the query string),
//! whose rejections become the service's own error through [`Rejects`]; [`JsonObject`],
//! the JSON-object rule itself, for extractors that answer in another shape (the
//! products' compatibility routes); and [`Document`], the rendered OpenAPI document
//! with the handler that serves it. [`observe`] holds the request id, the request span
//! and the latency histograms both serve at `/metrics`.

pub mod observe;

use axum::Extension;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A JSON request body that must be a JSON object. Serde's derived structs also accept
/// a JSON array (fields by position), so `[null, null]` would otherwise be a valid
/// "change nothing" request; no Licet body is positional. Parsed once, straight into
/// `T`, by `axum::Json` (so its rejections, field paths included, are unchanged).
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonObject<T> {
    type Rejection = JsonRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, JsonRejection> {
        let axum::Json(ObjectOnly(value)) =
            axum::Json::<ObjectOnly<T>>::from_request(request, state).await?;
        Ok(JsonObject(value))
    }
}

/// `T`, read from a JSON object only.
struct ObjectOnly<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(StructsAreObjects(deserializer)).map(ObjectOnly)
    }
}

/// A deserializer whose structs come from objects only (the top level; nested values
/// are read by the wrapped deserializer itself).
struct StructsAreObjects<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for StructsAreObjects<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(ObjectsOnly(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

const NOT_AN_OBJECT: &str =
    "the body must be a JSON object ({\"field\": …}), not an array or a single value";

/// Passes an object on to the struct's own visitor and refuses anything else.
struct ObjectsOnly<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for ObjectsOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(NOT_AN_OBJECT)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(serde::de::Error::custom(NOT_AN_OBJECT))
    }
}

/// A service's state names the error its malformed requests are answered with, so the
/// shared extractors answer in that service's shape.
pub trait Rejects {
    /// The service's error: built from axum's rejections, rendered as its error body.
    type Rejection: From<JsonRejection> + From<PathRejection> + From<QueryRejection> + IntoResponse;
}

/// A JSON object request body ([`JsonObject`]) whose rejections (malformed JSON, unknown
/// fields, wrong types, too large) answer in the service's error shape.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Rejects + Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = S::Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, S::Rejection> {
        let JsonObject(value) = JsonObject::from_request(request, state).await?;
        Ok(Body(value))
    }
}

/// Path parameters whose rejection answers in the service's error shape.
#[derive(Debug)]
pub struct Id<T>(pub T);

impl<S: Rejects + Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Id<T> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, S::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::from_request_parts(parts, state).await?;
        Ok(Id(value))
    }
}

/// A query string whose rejection answers in the service's error shape.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Rejects + Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, S::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// A rendered OpenAPI document, shared by every request (an axum [`Extension`]).
#[derive(Clone, Debug)]
pub struct Document(Arc<[u8]>);

impl Document {
    /// Renders `openapi` once.
    pub fn new(openapi: &utoipa::openapi::OpenApi) -> Document {
        Document(serde_json::to_vec(openapi).unwrap_or_default().into())
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", content_type = "application/json", body = Object)))]
pub async fn document(Extension(document): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Bytes::copy_from_slice(&document.0),
    )
}
