//! Reading an entity: a task fills the [`RecordStream`]'s channel page by
//! page, with a read-ahead of one page.
//!
//! The task holds at most one page being handed out and one page being
//! fetched: as soon as page *n* is parsed and the next page's URL known, it
//! starts fetching page *n+1* (a task of its own), then pushes page *n*'s
//! records into the channel ([`READ_BUFFER`] records). So a slow consumer
//! holds the producer back: at most the channel, the rest of page *n* and
//! page *n+1* are in memory — a million products never are.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use mapsync_core::source::{
    Entity, InvalidRecord, Position, ReadError, ReadScope, Record, RecordItem, RecordStream,
    SourceError,
};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::mpsc;
use url::Url;

use crate::error::{RestError, RestErrorKind};
use crate::http::{Http, Request};
use crate::options::{CountOptions, EntityOptions, SinceOptions};
use crate::paging::{self, PageFacts, Paging, Style, Walker};

/// Records buffered in the channel between the reading task and the
/// consumer: less than a page, so the producer runs at most two pages
/// ahead of the page the consumer is on.
pub const READ_BUFFER: usize = 32;

/// How the `since` instant is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinceFormat {
    /// `2025-01-31T12:00:00Z`.
    Rfc3339,
    /// Seconds since 1970.
    Unix,
    /// Milliseconds since 1970.
    UnixMs,
    /// `2025-01-31` (UTC).
    Date,
}

/// An entity's incremental reads.
#[derive(Debug, Clone)]
pub struct Since {
    /// The query parameter, if the server filters.
    pub param: Option<String>,
    /// The record field of the last update, if mapsync filters too.
    pub field: Option<Vec<String>>,
    /// Taken off the last run's start.
    pub overlap: Duration,
    /// A full read at least this often.
    pub full_every: Duration,
    /// How the instant is written.
    pub format: SinceFormat,
}

impl SinceFormat {
    /// `t` (floored to the second) in this format.
    pub fn write(self, t: SystemTime) -> String {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let dt = time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        match self {
            SinceFormat::Rfc3339 => dt
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            SinceFormat::Unix => secs.to_string(),
            SinceFormat::UnixMs => (secs * 1000).to_string(),
            SinceFormat::Date => dt
                .format(time::macros::format_description!("[year]-[month]-[day]"))
                .unwrap_or_default(),
        }
    }
}

/// The count endpoint.
#[derive(Debug, Clone)]
pub struct Count {
    /// Its URL, with its query.
    pub url: Url,
    /// Where the number is.
    pub value: Vec<String>,
}

/// How one entity is read.
pub struct EntityReader {
    /// The entity.
    pub entity: Entity,
    /// The list URL with `list.query`.
    pub list: Url,
    /// Where the records are in a page.
    pub records: Vec<String>,
    /// Paging.
    pub paging: Paging,
    /// Incremental reads.
    pub since: Option<Since>,
    /// The count endpoint.
    pub count: Option<Count>,
}

impl std::fmt::Debug for EntityReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs' queries may hold secrets: the path only.
        f.debug_struct("EntityReader")
            .field("entity", &self.entity)
            .field("list", &self.list.path())
            .field("records", &self.records.join("."))
            .field("paging", &self.paging)
            .field("since", &self.since)
            .field("count", &self.count.as_ref().map(|c| c.url.path()))
            .finish()
    }
}

/// Append `query` (string, number, boolean values; a null value sends the
/// name alone).
pub fn add_query(u: &mut Url, query: &serde_json::Map<String, Value>) {
    if query.is_empty() {
        return;
    }
    let mut q = u.query_pairs_mut();
    for (k, v) in query {
        match v {
            Value::Null => {
                q.append_key_only(k);
            }
            Value::String(s) => {
                q.append_pair(k, s);
            }
            other => {
                q.append_pair(k, &other.to_string());
            }
        }
    }
}

impl EntityReader {
    /// From an entity's options.
    pub fn new(entity: Entity, o: &EntityOptions, http: &Http) -> Result<EntityReader, RestError> {
        let name = entity.as_str();
        let mut list = http.url(&o.list.path).map_err(|e| {
            RestError::config(
                format!("`entities.{name}.list.path`: {}", e.message),
                e.help,
            )
        })?;
        add_query(&mut list, &o.list.query);
        let paging = Paging::from_options(o.paging.as_ref(), name)?;
        let since = o.since.as_ref().map(|s| since(s, name)).transpose()?;
        let count = o.count.as_ref().map(|c| count(c, name, http)).transpose()?;
        Ok(EntityReader {
            entity,
            list,
            records: paging::dotted(o.list.records.as_deref()),
            paging,
            since,
            count,
        })
    }

    /// The first page's URL for `scope`.
    pub fn first_url(&self, scope: ReadScope) -> Url {
        let mut u = self.list.clone();
        self.add_since(&mut u, scope);
        {
            let params = self.paging.first_params();
            if !params.is_empty() {
                let mut q = u.query_pairs_mut();
                for (k, v) in &params {
                    q.append_pair(k, v);
                }
            }
        }
        u
    }

    fn add_since(&self, u: &mut Url, scope: ReadScope) {
        if let (ReadScope::Since(t), Some(s)) = (scope, &self.since) {
            if let Some(p) = &s.param {
                u.query_pairs_mut().append_pair(p, &s.format.write(t));
            }
        }
    }

    /// Whether the record is older than the instant of an incremental read
    /// (only with `since.field`; a record whose field does not read as a
    /// time is kept).
    pub(crate) fn older(&self, fields: &serde_json::Map<String, Value>, scope: ReadScope) -> bool {
        let (
            ReadScope::Since(t),
            Some(Since {
                field: Some(path), ..
            }),
        ) = (scope, &self.since)
        else {
            return false;
        };
        let Some(v) = path
            .split_first()
            .and_then(|(first, rest)| paging::at(fields.get(first)?, rest))
        else {
            return false;
        };
        let Some(updated) = record_time(v) else {
            return false;
        };
        let floor = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i128)
            .unwrap_or(0);
        updated < floor
    }
}

/// A record's update time as seconds since 1970: RFC 3339 text, or a
/// number (seconds, or milliseconds when it is that big).
fn record_time(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => {
            time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp() as i128)
        }
        Value::Number(n) => {
            let x = n.as_f64()?;
            Some(if x > 1e11 {
                (x / 1000.0) as i128
            } else {
                x as i128
            })
        }
        _ => None,
    }
}

fn since(s: &SinceOptions, name: &str) -> Result<Since, RestError> {
    if s.param.is_none() && s.field.is_none() {
        return Err(RestError::config(
            format!("`entities.{name}.since` needs `param` or `field`"),
            "add `param: updated_since` (the server filters) and/or `field: LastUpdated` (mapsync skips older records)",
        ));
    }
    let format = match s.format.as_deref() {
        None | Some("rfc3339") => SinceFormat::Rfc3339,
        Some("unix") => SinceFormat::Unix,
        Some("unix_ms") => SinceFormat::UnixMs,
        Some("date") => SinceFormat::Date,
        Some(other) => {
            return Err(RestError::config(
                format!("`entities.{name}.since.format` is `{other}`"),
                "write rfc3339, unix, unix_ms or date",
            ))
        }
    };
    Ok(Since {
        param: s.param.clone(),
        field: s.field.as_deref().map(|f| paging::dotted(Some(f))),
        overlap: crate::options::duration(
            s.overlap.as_deref(),
            &format!("entities.{name}.since.overlap"),
            Duration::from_secs(300),
        )?,
        full_every: crate::options::duration(
            s.full_every.as_deref(),
            &format!("entities.{name}.since.full_every"),
            Duration::from_secs(86_400),
        )?,
        format,
    })
}

fn count(c: &CountOptions, name: &str, http: &Http) -> Result<Count, RestError> {
    let mut url = http.url(&c.path).map_err(|e| {
        RestError::config(
            format!("`entities.{name}.count.path`: {}", e.message),
            e.help,
        )
    })?;
    add_query(&mut url, &c.query);
    Ok(Count {
        url,
        value: paging::dotted(c.value.as_deref()),
    })
}

/// One page, parsed.
pub(crate) struct Page {
    /// The page's URL, as it may be shown.
    pub origin: Arc<str>,
    /// Its records.
    pub records: Vec<Value>,
    /// What paging needs to know of it.
    pub facts: PageFacts,
    /// HTTP requests it took (retries and token requests included).
    pub requests: u32,
}

/// The runtime the reading tasks run on when `records` is called outside
/// any Tokio runtime (a plain thread): one worker thread, for the process.
fn background() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mapsync-rest")
            .enable_all()
            .build()
            .expect("a Tokio runtime for the rest source")
    })
}

/// Spawn on the current runtime, or on the background one.
pub fn spawn<F>(fut: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(fut);
        }
        Err(_) => {
            background().spawn(fut);
        }
    }
}

/// Open a stream of `reader`'s records within `scope`.
pub fn stream(http: Arc<Http>, reader: Arc<EntityReader>, scope: ReadScope) -> RecordStream {
    let (tx, rx) = mpsc::channel(READ_BUFFER);
    spawn(run(http, reader, scope, tx));
    RecordStream::from_channel(rx)
}

fn fatal(e: RestError) -> RecordItem {
    Err(ReadError::Fatal(SourceError::Connector(Box::new(e))))
}

async fn run(
    http: Arc<Http>,
    reader: Arc<EntityReader>,
    scope: ReadScope,
    tx: mpsc::Sender<RecordItem>,
) {
    let first = reader.first_url(scope);
    let mut walker = Walker::new(reader.paging.clone(), first.clone());
    tracing::debug!(entity = %reader.entity, url = %http.redactor().url(&first), "reading");
    let mut index: u64 = 0;
    let mut fetch = tokio::spawn(fetch_page(http.clone(), reader.clone(), first));
    loop {
        // A consumer that goes away stops the reading, even mid-request.
        let fetched = tokio::select! {
            r = &mut fetch => r,
            _ = tx.closed() => {
                fetch.abort();
                return;
            }
        };
        let page = match fetched {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                let _ = tx.send(fatal(e)).await;
                return;
            }
            Err(join) => {
                let _ = tx
                    .send(fatal(RestError::new(
                        RestErrorKind::Body,
                        format!(
                            "reading {}: the page task failed ({join})",
                            reader.entity.plural()
                        ),
                        "this is a bug in mapsync; please report it",
                    )))
                    .await;
                return;
            }
        };
        let next = walker.next(&page.facts, &page.origin);
        // Read ahead: fetch the next page while this one is handed out.
        let prefetch = match &next {
            Ok(Some(u)) => Some(tokio::spawn(fetch_page(
                http.clone(),
                reader.clone(),
                u.clone(),
            ))),
            _ => None,
        };
        if hand_out(&tx, &reader, page, scope, &mut index)
            .await
            .is_err()
        {
            // The consumer is gone.
            if let Some(p) = prefetch {
                p.abort();
            }
            return;
        }
        match (next, prefetch) {
            (Err(e), _) => {
                let _ = tx.send(fatal(e)).await;
                return;
            }
            (Ok(Some(_)), Some(p)) => fetch = p,
            _ => {
                tracing::debug!(entity = %reader.entity, records = index, "read");
                return;
            }
        }
    }
}

/// Push a page's records into the channel.
async fn hand_out(
    tx: &mpsc::Sender<RecordItem>,
    reader: &EntityReader,
    page: Page,
    scope: ReadScope,
    index: &mut u64,
) -> Result<(), ()> {
    let entity = reader.entity;
    for v in page.records {
        let position = Position {
            origin: page.origin.clone(),
            line: None,
            index: *index,
        };
        *index += 1;
        let item = match v {
            Value::Object(fields) => {
                if reader.older(&fields, scope) {
                    continue;
                }
                Ok(Record {
                    entity,
                    position,
                    fields,
                })
            }
            other => Err(ReadError::Invalid(Box::new(InvalidRecord {
                entity,
                message: format!(
                    "{entity} {} is {}, not an object",
                    position.index + 1,
                    kind_name(&other)
                ),
                help: format!(
                    "the list at `{}` should hold one JSON object per record; check `list.records` or the server",
                    if reader.records.is_empty() {
                        "(the body)".to_string()
                    } else {
                        reader.records.join(".")
                    }
                ),
                position,
            }))),
        };
        if tx.send(item).await.is_err() {
            return Err(());
        }
    }
    Ok(())
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn describe_keys(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!("an object with the keys {}", keys.join(", "))
        }
        other => kind_name(other).to_string(),
    }
}

pub(crate) async fn fetch_page(
    http: Arc<Http>,
    reader: Arc<EntityReader>,
    url: Url,
) -> Result<Page, RestError> {
    let what = format!("reading {}", reader.entity.plural());
    fetch_page_as(http, reader, url, what).await
}

/// [`fetch_page`], with what the request is for in messages.
pub(crate) async fn fetch_page_as(
    http: Arc<Http>,
    reader: Arc<EntityReader>,
    url: Url,
    what: String,
) -> Result<Page, RestError> {
    let req = Request {
        method: Method::GET,
        url,
        body: None,
        content_type: None,
        what,
    };
    let mut sent = 0;
    let reply = http.send(&req, &mut sent).await?;
    let shown = http.redactor().url(&reply.url);
    let body_hash = paging::body_hash(&reply.body);
    let mut v: Value = serde_json::from_slice(&reply.body).map_err(|e| {
        RestError::new(
            RestErrorKind::Body,
            format!(
                "reading {}: the answer of {shown} is not JSON (line {}, column {})",
                reader.entity.plural(),
                e.line(),
                e.column()
            ),
            "check `base_url` and `list.path`: the endpoint should answer with JSON",
        )
    })?;
    drop(reply.body);
    let mut facts = PageFacts {
        body_hash,
        ..PageFacts::default()
    };
    match &reader.paging.style {
        Style::Cursor { cursor, .. } => {
            facts.cursor = match paging::at(&v, cursor) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
        }
        Style::NextUrl { next } => {
            if let Some(Value::String(s)) = paging::at(&v, next) {
                if !s.trim().is_empty() {
                    facts.next = Some(reply.url.join(s.trim()).map_err(|_| {
                        RestError::new(
                            RestErrorKind::Paging,
                            format!(
                                "reading {}: the next page's URL at `{}` in {shown} is not a URL",
                                reader.entity.plural(),
                                next.join(".")
                            ),
                            "check `paging.next`",
                        )
                    })?);
                }
            }
        }
        Style::Link => facts.next = paging::link_next(&reply.headers, &reply.url),
        _ => {}
    }
    let records = match paging::at_mut(&mut v, &reader.records) {
        Some(Value::Array(a)) => std::mem::take(a),
        Some(Value::Null) => Vec::new(),
        found => {
            let found = match found {
                None => "nothing".to_string(),
                Some(other) => kind_name(other).to_string(),
            };
            let at = if reader.records.is_empty() {
                "the body".to_string()
            } else {
                format!("`{}`", reader.records.join("."))
            };
            return Err(RestError::new(
                RestErrorKind::Body,
                format!(
                    "reading {}: {shown} has {found} at {at}, not a list of records (the body is {})",
                    reader.entity.plural(),
                    describe_keys(&v)
                ),
                "set `list.records` to the dotted path of the record list, e.g. `data` or `data.items`",
            ));
        }
    };
    facts.count = records.len() as u64;
    Ok(Page {
        origin: Arc::from(shown),
        records,
        facts,
        requests: sent,
    })
}

/// The count of `reader`'s records within `scope`.
pub async fn count_records(
    http: &Http,
    reader: &EntityReader,
    scope: ReadScope,
) -> Result<Option<u64>, RestError> {
    let Some(c) = &reader.count else {
        return Ok(None);
    };
    let mut url = c.url.clone();
    reader.add_since(&mut url, scope);
    let req = Request {
        method: Method::GET,
        url,
        body: None,
        content_type: None,
        what: format!("counting {}", reader.entity.plural()),
    };
    let mut sent = 0;
    let reply = http.send(&req, &mut sent).await?;
    let shown = http.redactor().url(&reply.url);
    let v: Value = serde_json::from_slice(&reply.body)
        .or_else(|_| {
            // A bare number as text.
            String::from_utf8_lossy(&reply.body)
                .trim()
                .parse::<u64>()
                .map(Value::from)
        })
        .map_err(|_| {
            RestError::new(
                RestErrorKind::Body,
                format!(
                    "counting {}: the answer of {shown} is not JSON",
                    reader.entity.plural()
                ),
                "check `count.path`",
            )
        })?;
    let n = match paging::at(&v, &c.value) {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    n.map(Some).ok_or_else(|| {
        RestError::new(
            RestErrorKind::Body,
            format!(
                "counting {}: {shown} has no whole number at `{}` (the body is {})",
                reader.entity.plural(),
                if c.value.is_empty() {
                    "(the body)".into()
                } else {
                    c.value.join(".")
                },
                describe_keys(&v)
            ),
            "set `count.value` to the dotted path of the count, e.g. `count` or `meta.total`",
        )
    })
}
