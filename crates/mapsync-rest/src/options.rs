//! The options of a `rest` source, as the profile gives them (`${ENV}`
//! resolved), read into typed values. `validate` checked them against
//! `schema/source.schema.json` and the connector's checks; reading them
//! again here reports what is still wrong (options built in code, a value
//! from the environment that is not a URL) as a [`RestError`] of kind
//! `Config`, without ever quoting a secret.

use std::collections::BTreeMap;
use std::time::Duration;

use mapsync_config::connector::Secret;
use mapsync_core::source::Entity;
use serde::Deserialize;
use serde_json::Value;

use crate::error::RestError;

/// The options, typed. May hold secrets (`auth`, and perhaps a query
/// value): `Debug` shows the shape only.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestOptions {
    /// `type: rest`.
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The API's base URL.
    pub base_url: String,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: Option<AuthOptions>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Timeout of one request (`30s`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Retries of a failed request.
    #[serde(default)]
    pub retries: Option<u32>,
    /// The first retry's wait (`250ms`).
    #[serde(default)]
    pub backoff: Option<String>,
    /// A client-side ceiling (`10/s`).
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// How each entity is read.
    pub entities: PerEntity<EntityOptions>,
    /// Where SyncID / SyncDate / SyncMsg go back.
    #[serde(default)]
    pub writeback: PerEntity<WritebackOptions>,
}

impl std::fmt::Debug for RestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = redacted_base(&self.base_url, &self.secrets());
        let entities = |p: &PerEntity<_>| {
            Entity::ALL
                .into_iter()
                .filter(|e| p.get(*e).is_some())
                .map(Entity::as_str)
                .collect::<Vec<_>>()
        };
        f.debug_struct("RestOptions")
            .field("base_url", &base)
            .field("auth", &self.auth)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("rate_limit", &self.rate_limit)
            .field("entities", &entities(&self.entities.as_unit()))
            .field("writeback", &entities(&self.writeback.as_unit()))
            .finish_non_exhaustive()
    }
}

/// One value per entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerEntity<T> {
    /// `category:`.
    pub category: Option<T>,
    /// `product:`.
    pub product: Option<T>,
}

impl<T> Default for PerEntity<T> {
    fn default() -> Self {
        PerEntity {
            category: None,
            product: None,
        }
    }
}

impl<T> PerEntity<T> {
    /// Which entities have a value.
    fn as_unit(&self) -> PerEntity<()> {
        PerEntity {
            category: self.category.as_ref().map(|_| ()),
            product: self.product.as_ref().map(|_| ()),
        }
    }

    /// The value for `entity`.
    pub fn get(&self, entity: Entity) -> Option<&T> {
        match entity {
            Entity::Category => self.category.as_ref(),
            Entity::Product => self.product.as_ref(),
        }
    }
}

/// `auth:` — exactly one style.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthOptions {
    /// `bearer: "${TOKEN}"`.
    #[serde(default)]
    pub bearer: Option<String>,
    /// `header: X-Api-Key` (with `value`).
    #[serde(default)]
    pub header: Option<String>,
    /// The header's value.
    #[serde(default)]
    pub value: Option<String>,
    /// `basic: { user, password }`.
    #[serde(default)]
    pub basic: Option<BasicOptions>,
    /// `oauth2: { token_url, client_id, client_secret, scope }`.
    #[serde(default)]
    pub oauth2: Option<OAuth2Options>,
}

impl std::fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthOptions")
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("header", &self.header)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("basic", &self.basic)
            .field("oauth2", &self.oauth2)
            .finish()
    }
}

/// `basic:`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicOptions {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicOptions")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `oauth2:`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Options {
    /// The token endpoint (relative to base_url, or absolute).
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The scope, if any.
    #[serde(default)]
    pub scope: Option<String>,
    /// `body` (default) or `basic`.
    #[serde(default)]
    pub client_auth: Option<String>,
}

impl std::fmt::Debug for OAuth2Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Options")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scope", &self.scope)
            .field("client_auth", &self.client_auth)
            .finish()
    }
}

/// How one entity is read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityOptions {
    /// The list request.
    pub list: ListOptions,
    /// Paging (default: one request).
    #[serde(default)]
    pub paging: Option<PagingOptions>,
    /// Incremental reads.
    #[serde(default)]
    pub since: Option<SinceOptions>,
    /// The count endpoint.
    #[serde(default)]
    pub count: Option<CountOptions>,
}

/// `list:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListOptions {
    /// The endpoint.
    pub path: String,
    /// Dotted path of the records in the body.
    #[serde(default)]
    pub records: Option<String>,
    /// Query parameters.
    #[serde(default)]
    pub query: serde_json::Map<String, Value>,
}

/// `paging:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingOptions {
    /// page, offset, cursor, link, next_url, none.
    pub style: String,
    /// page: the page parameter.
    #[serde(default)]
    pub page: Option<String>,
    /// page: the size parameter.
    #[serde(default)]
    pub size: Option<String>,
    /// offset: the offset parameter.
    #[serde(default)]
    pub offset: Option<String>,
    /// offset: the limit parameter.
    #[serde(default)]
    pub limit: Option<String>,
    /// page, offset: records per page.
    #[serde(default)]
    pub max: Option<u64>,
    /// page, offset: the first page number / offset.
    #[serde(default)]
    pub start: Option<u64>,
    /// cursor: where the next cursor is.
    #[serde(default)]
    pub cursor: Option<String>,
    /// cursor: the parameter that sends it back.
    #[serde(default)]
    pub param: Option<String>,
    /// next_url: where the next URL is.
    #[serde(default)]
    pub next: Option<String>,
    /// The page cap.
    #[serde(default)]
    pub max_pages: Option<u64>,
}

/// `since:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceOptions {
    /// The query parameter.
    #[serde(default)]
    pub param: Option<String>,
    /// The record field of the last update.
    #[serde(default)]
    pub field: Option<String>,
    /// Default 5m.
    #[serde(default)]
    pub overlap: Option<String>,
    /// Default 24h.
    #[serde(default)]
    pub full_every: Option<String>,
    /// rfc3339, unix, unix_ms, date.
    #[serde(default)]
    pub format: Option<String>,
}

/// `count:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountOptions {
    /// The endpoint.
    pub path: String,
    /// Dotted path of the number.
    #[serde(default)]
    pub value: Option<String>,
    /// Query parameters.
    #[serde(default)]
    pub query: serde_json::Map<String, Value>,
}

/// `writeback.<entity>:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackOptions {
    /// PATCH (default), PUT, POST.
    #[serde(default)]
    pub method: Option<String>,
    /// The path template.
    pub path: String,
    /// The body template or shape.
    #[serde(default)]
    pub body: Option<Value>,
    /// Many items per request.
    #[serde(default)]
    pub batch: Option<BatchOptions>,
}

/// `batch:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOptions {
    /// Items per request.
    pub size: usize,
    /// The method (default: the entity's).
    #[serde(default)]
    pub method: Option<String>,
    /// The batch endpoint (a template over `fields`).
    pub path: String,
    /// One item.
    #[serde(default)]
    pub item: Option<Value>,
    /// The whole body over `items`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Dotted path of the per-item results.
    #[serde(default)]
    pub results: Option<String>,
}

impl RestOptions {
    /// Read options from a profile's `source:` value.
    pub fn from_value(value: &Value) -> Result<RestOptions, RestError> {
        parse_options(
            value,
            "see docs/rest.md for the options and run `mapsync validate`",
        )
    }

    /// The resolved secrets of these options.
    pub fn secrets(&self) -> Vec<Secret> {
        auth_secrets(self.auth.as_ref())
    }

    /// What the HTTP client takes of these options.
    pub fn client(&self) -> ClientOptions<'_> {
        ClientOptions {
            base_url: &self.base_url,
            auth: self.auth.as_ref(),
            headers: &self.headers,
            timeout: self.timeout.as_deref(),
            retries: self.retries,
            backoff: self.backoff.as_deref(),
            rate_limit: self.rate_limit.as_deref(),
        }
    }
}

/// Options of a `source:` or `target:` value, or why they do not fit
/// (serde's message may quote a value: the secrets in it are masked).
/// The two option structs repeat the connection fields rather than share
/// them with `#[serde(flatten)]`: serde cannot flatten under
/// `deny_unknown_fields`, and an unknown option must stay an error.
fn parse_options<T: serde::de::DeserializeOwned>(
    value: &Value,
    help: &str,
) -> Result<T, RestError> {
    let secrets = secrets_of(value);
    serde_json::from_value(value.clone()).map_err(|e| {
        let r = crate::redact::Redactor::new(secrets.iter().map(|s| s.expose().to_string()));
        RestError::config(
            format!("the options do not fit: {}", r.text(&e.to_string())),
            help.to_string(),
        )
    })
}

/// A base URL for `Debug`, its secrets masked.
fn redacted_base(base_url: &str, secrets: &[Secret]) -> String {
    let r = crate::redact::Redactor::new(secrets.iter().map(|s| s.expose().to_string()));
    match url::Url::parse(base_url) {
        Ok(u) => r.url(&u),
        Err(_) => "<not a URL>".to_string(),
    }
}

/// The secrets of an `auth:`.
fn auth_secrets(auth: Option<&AuthOptions>) -> Vec<Secret> {
    let mut out = Vec::new();
    if let Some(a) = auth {
        out.extend(a.bearer.iter().map(Secret::new));
        out.extend(a.value.iter().map(Secret::new));
        out.extend(a.basic.iter().map(|b| Secret::new(&b.password)));
        out.extend(a.oauth2.iter().map(|o| Secret::new(&o.client_secret)));
    }
    out
}

/// The options the HTTP client takes, common to the source and the
/// target.
#[derive(Clone, Copy)]
pub struct ClientOptions<'a> {
    /// The API's base URL.
    pub base_url: &'a str,
    /// How requests authenticate.
    pub auth: Option<&'a AuthOptions>,
    /// Extra request headers.
    pub headers: &'a BTreeMap<String, String>,
    /// Timeout of one request.
    pub timeout: Option<&'a str>,
    /// Retries of a failed request.
    pub retries: Option<u32>,
    /// The first retry's wait.
    pub backoff: Option<&'a str>,
    /// A client-side ceiling.
    pub rate_limit: Option<&'a str>,
}

/// The options of a `rest` target (connectors.md §3), as the profile
/// gives them (`${ENV}` resolved). May hold secrets: `Debug` shows the
/// shape only.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetOptions {
    /// `type: rest`.
    #[serde(rename = "type", default)]
    pub type_name: String,
    /// The store API's base URL.
    pub base_url: String,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: Option<AuthOptions>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Timeout of one request (`30s`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Retries of a failed request.
    #[serde(default)]
    pub retries: Option<u32>,
    /// The first retry's wait (`250ms`).
    #[serde(default)]
    pub backoff: Option<String>,
    /// A client-side ceiling (`10/s`).
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// How each entity is listed, created, updated, deleted, deactivated.
    pub entities: PerEntity<TargetEntityOptions>,
    /// How a product's images are listed, added, overwritten, deleted.
    #[serde(default)]
    pub images: Option<ImagesOptions>,
}

impl std::fmt::Debug for TargetOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = redacted_base(&self.base_url, &self.secrets());
        let entities: Vec<&str> = Entity::ALL
            .into_iter()
            .filter(|e| self.entities.get(*e).is_some())
            .map(Entity::as_str)
            .collect();
        f.debug_struct("TargetOptions")
            .field("base_url", &base)
            .field("auth", &self.auth)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("rate_limit", &self.rate_limit)
            .field("entities", &entities)
            .field("images", &self.images.is_some())
            .finish_non_exhaustive()
    }
}

impl TargetOptions {
    /// Read options from a profile's `target:` value.
    pub fn from_value(value: &Value) -> Result<TargetOptions, RestError> {
        parse_options(
            value,
            "see docs/rest.md (\"The `rest` target\") for the options and run `mapsync validate`",
        )
    }

    /// The resolved secrets of these options.
    pub fn secrets(&self) -> Vec<Secret> {
        auth_secrets(self.auth.as_ref())
    }

    /// What the HTTP client takes of these options.
    pub fn client(&self) -> ClientOptions<'_> {
        ClientOptions {
            base_url: &self.base_url,
            auth: self.auth.as_ref(),
            headers: &self.headers,
            timeout: self.timeout.as_deref(),
            retries: self.retries,
            backoff: self.backoff.as_deref(),
            rate_limit: self.rate_limit.as_deref(),
        }
    }
}

/// How one entity of a `rest` target is read and written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetEntityOptions {
    /// The list request and where an item's id, key and state are.
    pub list: TargetListOptions,
    /// Paging of the list (default: one request).
    #[serde(default)]
    pub paging: Option<PagingOptions>,
    /// One item by its id (default: found in the list).
    #[serde(default)]
    pub get: Option<GetOptions>,
    /// The create request.
    pub create: RequestOptions,
    /// The update request.
    pub update: RequestOptions,
    /// The delete request.
    #[serde(default)]
    pub delete: Option<RequestOptions>,
    /// The deactivate (unpublish) request.
    #[serde(default)]
    pub deactivate: Option<RequestOptions>,
    /// Products: the field holding the ids of the product's categories.
    #[serde(default)]
    pub categories: Option<String>,
    /// Products: how the list is narrowed to products updated since an
    /// instant (`mapsync images pull --since`): `{ param, field, format }`
    /// as a source's `since:` (its `overlap` and `full_every` do not apply).
    #[serde(default)]
    pub since: Option<SinceOptions>,
}

/// `list:` of a target entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetListOptions {
    /// The endpoint.
    pub path: String,
    /// Dotted path of the items in the body.
    #[serde(default)]
    pub records: Option<String>,
    /// Query parameters.
    #[serde(default)]
    pub query: serde_json::Map<String, Value>,
    /// Dotted path of an item's id (default `id`).
    #[serde(default)]
    pub id: Option<String>,
    /// Dotted path of the field that keeps mapsync's key.
    pub key: String,
    /// Dotted path of the field that says the item is published.
    #[serde(default)]
    pub published: Option<String>,
    /// Dotted path of an item's handle, for `find_by_handle`.
    #[serde(default)]
    pub handle: Option<String>,
    /// Dotted path of when the store last changed an item (RFC 3339 or
    /// seconds since 1970).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// A query parameter that filters the list by the key field.
    #[serde(default)]
    pub key_param: Option<String>,
}

/// `get:` of a target entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetOptions {
    /// The path template (`/products/{{ id }}`).
    pub path: String,
    /// Dotted path of the item in the body (default: the body).
    #[serde(default)]
    pub record: Option<String>,
}

/// One request of a target: `create`, `update`, `delete`, `deactivate`,
/// and the image requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOptions {
    /// The HTTP method (each request has its default).
    #[serde(default)]
    pub method: Option<String>,
    /// The path template.
    pub path: String,
    /// The body: a template or a shape (each request has its default).
    #[serde(default)]
    pub body: Option<Value>,
    /// `create`: dotted path of the new item's id in the answer.
    #[serde(default)]
    pub id: Option<String>,
}

/// `images:` of a target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesOptions {
    /// The list of a product's images.
    pub list: ImageListOptions,
    /// Adding an image.
    pub add: RequestOptions,
    /// Overwriting an image (URL, position).
    #[serde(default)]
    pub overwrite: Option<RequestOptions>,
    /// Deleting an image.
    #[serde(default)]
    pub delete: Option<RequestOptions>,
    /// Giving the store a file's bytes (the image round trip's publish):
    /// the answer holds the URL that `add` and `overwrite` then send.
    #[serde(default)]
    pub upload: Option<UploadOptions>,
}

/// `images.upload:`: one request that sends a file's bytes to the store
/// and reads back the URL it serves them at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadOptions {
    /// The HTTP method (default `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// The path template, over `name` (`mapsync-img-<sha256>.<ext>`),
    /// `sha256`, `content_type` and `size`.
    pub path: String,
    /// How the bytes are sent (default `multipart`).
    #[serde(default)]
    pub encoding: Option<UploadEncoding>,
    /// `multipart`: the form field of the file (default `file`).
    #[serde(default)]
    pub field: Option<String>,
    /// Dotted path of the file's URL in the answer (default `url`).
    #[serde(default)]
    pub url: Option<String>,
}

/// How `images.upload` sends a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadEncoding {
    /// A `multipart/form-data` body: one part, the file, with its name.
    #[default]
    Multipart,
    /// The bytes as the body, with the image's content type.
    Raw,
}

/// `images.list:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageListOptions {
    /// The path template (`/products/{{ product_id }}/images`).
    pub path: String,
    /// Dotted path of the images in the body (default: the body).
    #[serde(default)]
    pub records: Option<String>,
    /// Dotted path of an image's id (default `id`).
    #[serde(default)]
    pub id: Option<String>,
    /// Dotted path of an image's URL (default `url`).
    #[serde(default)]
    pub url: Option<String>,
    /// Dotted path of an image's position (default: the list's order).
    #[serde(default)]
    pub position: Option<String>,
    /// Dotted path of an image's alt text (default: none read).
    #[serde(default)]
    pub alt: Option<String>,
}

/// The secrets of raw options, best effort (for masking error messages
/// before the options are typed).
fn secrets_of(value: &Value) -> Vec<Secret> {
    let mut out = Vec::new();
    let Some(auth) = value.get("auth") else {
        return out;
    };
    for path in [
        &["bearer"][..],
        &["value"],
        &["basic", "password"],
        &["oauth2", "client_secret"],
    ] {
        let mut cur = Some(auth);
        for p in path {
            cur = cur.and_then(|c| c.get(p));
        }
        if let Some(s) = cur.and_then(Value::as_str) {
            out.push(Secret::new(s));
        }
    }
    out
}

/// A duration option (`30s`, `5m`, `24h`).
pub fn duration(text: Option<&str>, name: &str, default: Duration) -> Result<Duration, RestError> {
    let Some(t) = text else { return Ok(default) };
    mapsync_config::check::mapping::parse_duration(t).ok_or_else(|| {
        RestError::config(
            format!("`{name}` is `{t}`, not a duration"),
            "write a number and a unit (ms, s, m, h, d), e.g. `30s`",
        )
    })
}

/// A rate (`10/s`, `600/m`, `2.5/s`) as the interval between two requests.
pub fn rate_interval(text: &str) -> Option<Duration> {
    let (n, unit) = text.trim().split_once('/')?;
    let n: f64 = n.trim().parse().ok()?;
    let per = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    if !(n.is_finite() && n > 0.0) {
        return None;
    }
    Some(Duration::from_secs_f64(per / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(rate_interval("10/s"), Some(Duration::from_millis(100)));
        assert_eq!(rate_interval("600/m"), Some(Duration::from_millis(100)));
        assert_eq!(rate_interval("2.5/s"), Some(Duration::from_millis(400)));
        assert_eq!(rate_interval("0/s"), None);
        assert_eq!(rate_interval("10/d"), None);
    }

    #[test]
    fn a_type_error_never_quotes_a_secret() {
        let v = serde_json::json!({
            "type": "rest", "base_url": "http://x", "entities": {},
            "auth": { "bearer": "canary-123" }, "retries": "canary-123"
        });
        let e = RestOptions::from_value(&v).unwrap_err();
        assert!(!e.to_string().contains("canary-123"), "{e}");
        assert!(!format!("{e:?}").contains("canary-123"), "{e:?}");
    }
}
