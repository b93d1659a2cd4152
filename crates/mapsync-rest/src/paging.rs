//! Paging: which URL comes next, and when to stop.
//!
//! | style | request n+1 | stops on |
//! |---|---|---|
//! | `page` | `page=start+n` (and `size=max`) | a short or empty page |
//! | `offset` | `offset` + records so far, `limit=max` | a short or empty page |
//! | `cursor` | the cursor at `cursor` (a dotted path) as `param` | no cursor, an empty cursor, an empty page |
//! | `link` | the `Link` header's `rel="next"` | no next link, an empty page |
//! | `next_url` | the URL at `next` (a dotted path) | no URL, an empty page |
//! | `none` | – | after the first page |
//!
//! Guards: a cursor or next URL seen before, or a page whose body is the
//! same as the one before, is a loop (the server ignores a parameter, or
//! goes round): a fatal error naming the option to check. More than
//! `max_pages` pages is fatal too.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use url::Url;

use crate::error::{RestError, RestErrorKind};
use crate::options::PagingOptions;

/// The default page cap.
pub const MAX_PAGES: u64 = 100_000;

/// The default page size of `page` and `offset`.
pub const DEFAULT_PAGE_SIZE: u64 = 100;

/// A paging style, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// One request.
    None,
    /// Page numbers.
    Page {
        /// The page parameter.
        page: String,
        /// The size parameter, if any.
        size: Option<String>,
        /// Records per page.
        max: Option<u64>,
        /// The first page number.
        start: u64,
    },
    /// Offset and limit.
    Offset {
        /// The offset parameter.
        offset: String,
        /// The limit parameter.
        limit: String,
        /// Records per page.
        max: u64,
        /// The first offset.
        start: u64,
    },
    /// A cursor from the body.
    Cursor {
        /// Where it is in the body.
        cursor: Vec<String>,
        /// The parameter that sends it back.
        param: String,
    },
    /// RFC 8288 `Link: <...>; rel="next"`.
    Link,
    /// A full URL from the body.
    NextUrl {
        /// Where it is in the body.
        next: Vec<String>,
    },
}

/// An entity's paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// The style.
    pub style: Style,
    /// The page cap.
    pub max_pages: u64,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            style: Style::None,
            max_pages: MAX_PAGES,
        }
    }
}

/// The options each style takes (besides `style` and `max_pages`).
pub fn style_keys(style: &str) -> &'static [&'static str] {
    match style {
        "page" => &["page", "size", "max", "start"],
        "offset" => &["offset", "limit", "max", "start"],
        "cursor" => &["cursor", "param"],
        "next_url" => &["next"],
        _ => &[],
    }
}

/// The options a style needs.
pub fn style_required(style: &str) -> &'static [&'static str] {
    match style {
        "cursor" => &["cursor"],
        "next_url" => &["next"],
        _ => &[],
    }
}

/// A dotted path (`data.items`) as its segments; empty for the body itself.
pub fn dotted(path: Option<&str>) -> Vec<String> {
    match path.map(str::trim) {
        None | Some("") | Some(".") => Vec::new(),
        Some(p) => p.split('.').map(str::to_string).collect(),
    }
}

/// The value at `path` in `v`: `None` when a key is missing.
pub fn at<'a>(v: &'a serde_json::Value, path: &[String]) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            serde_json::Value::Object(m) => m.get(seg)?,
            serde_json::Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Mutable access to the value at `path`.
pub fn at_mut<'a>(
    v: &'a mut serde_json::Value,
    path: &[String],
) -> Option<&'a mut serde_json::Value> {
    let mut cur = v;
    for seg in path {
        cur = match cur {
            serde_json::Value::Object(m) => m.get_mut(seg)?,
            serde_json::Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

impl Paging {
    /// From the options (checked by `validate`; checked again here).
    pub fn from_options(p: Option<&PagingOptions>, entity: &str) -> Result<Paging, RestError> {
        let Some(p) = p else {
            return Ok(Paging::default());
        };
        let field = |k: &str| format!("`entities.{entity}.paging.{k}`");
        let given: Vec<(&str, bool)> = vec![
            ("page", p.page.is_some()),
            ("size", p.size.is_some()),
            ("offset", p.offset.is_some()),
            ("limit", p.limit.is_some()),
            ("max", p.max.is_some()),
            ("start", p.start.is_some()),
            ("cursor", p.cursor.is_some()),
            ("param", p.param.is_some()),
            ("next", p.next.is_some()),
        ];
        let keys = style_keys(&p.style);
        for (k, set) in &given {
            if *set && !keys.contains(k) {
                return Err(RestError::config(
                    format!("{} does not apply to paging style `{}`", field(k), p.style),
                    format!(
                        "remove it, or choose the style it belongs to; style `{}` takes {}",
                        p.style,
                        describe_keys(keys)
                    ),
                ));
            }
        }
        let need = |v: &Option<String>, k: &str| -> Result<String, RestError> {
            v.clone().ok_or_else(|| {
                RestError::config(
                    format!("paging style `{}` needs {}", p.style, field(k)),
                    format!("add `{k}: ...` (a dotted path into the body, e.g. `meta.next`)"),
                )
            })
        };
        if p.max == Some(0) {
            return Err(RestError::config(
                format!("{} is 0", field("max")),
                "ask for at least one record per page",
            ));
        }
        let style = match p.style.as_str() {
            "none" => Style::None,
            "page" => Style::Page {
                page: p.page.clone().unwrap_or_else(|| "page".into()),
                size: p.size.clone(),
                max: p.max.or(p.size.as_ref().map(|_| DEFAULT_PAGE_SIZE)),
                start: p.start.unwrap_or(1),
            },
            "offset" => Style::Offset {
                offset: p.offset.clone().unwrap_or_else(|| "offset".into()),
                limit: p.limit.clone().unwrap_or_else(|| "limit".into()),
                max: p.max.unwrap_or(DEFAULT_PAGE_SIZE),
                start: p.start.unwrap_or(0),
            },
            "cursor" => Style::Cursor {
                cursor: dotted(Some(&need(&p.cursor, "cursor")?)),
                param: p.param.clone().unwrap_or_else(|| "cursor".into()),
            },
            "link" => Style::Link,
            "next_url" => Style::NextUrl {
                next: dotted(Some(&need(&p.next, "next")?)),
            },
            other => {
                return Err(RestError::config(
                    format!("{} is `{other}`", field("style")),
                    "write page, offset, cursor, link, next_url or none",
                ))
            }
        };
        Ok(Paging {
            style,
            max_pages: p.max_pages.unwrap_or(MAX_PAGES).max(1),
        })
    }

    /// The query parameters of the first request.
    pub fn first_params(&self) -> Vec<(String, String)> {
        match &self.style {
            Style::Page {
                page,
                size,
                max,
                start,
            } => {
                let mut v = vec![(page.clone(), start.to_string())];
                if let (Some(s), Some(m)) = (size, max) {
                    v.push((s.clone(), m.to_string()));
                }
                v
            }
            Style::Offset {
                offset,
                limit,
                max,
                start,
            } => vec![
                (offset.clone(), start.to_string()),
                (limit.clone(), max.to_string()),
            ],
            _ => Vec::new(),
        }
    }
}

fn describe_keys(keys: &[&str]) -> String {
    if keys.is_empty() {
        "no other option than `max_pages`".into()
    } else {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What paging needs to know of a page.
#[derive(Debug, Default)]
pub struct PageFacts {
    /// Records on it (malformed ones included).
    pub count: u64,
    /// The cursor at `cursor`, if the style has one (`None`: absent, null
    /// or empty).
    pub cursor: Option<String>,
    /// The next URL (`Link` or `next`), resolved against the page's URL.
    pub next: Option<Url>,
    /// A hash of the body, to catch a server that repeats a page.
    pub body_hash: u64,
}

/// A body's hash.
pub fn body_hash(body: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// Walks the pages of one read.
#[derive(Debug)]
pub struct Walker {
    paging: Paging,
    /// The first page's URL (query included), to build the next ones.
    first: Url,
    /// Pages read.
    pages: u64,
    /// Records read.
    records: u64,
    /// Page size learnt from the first page (`page` without `size`).
    learnt: Option<u64>,
    seen: HashSet<String>,
    last_hash: Option<u64>,
}

impl Walker {
    /// A walk starting at `first`.
    pub fn new(paging: Paging, first: Url) -> Walker {
        Walker {
            paging,
            first,
            pages: 0,
            records: 0,
            learnt: None,
            seen: HashSet::new(),
            last_hash: None,
        }
    }

    /// After a page was read: the next page's URL, `None` at the end, or
    /// why the walk cannot go on. `shown` is the page's URL as it may be
    /// shown.
    pub fn next(&mut self, facts: &PageFacts, shown: &str) -> Result<Option<Url>, RestError> {
        self.pages += 1;
        self.records += facts.count;
        let loop_error = |what: String, help: &str| {
            Err(RestError::new(
                RestErrorKind::Paging,
                what,
                help.to_string(),
            ))
        };
        if self.last_hash == Some(facts.body_hash) && facts.count > 0 {
            return loop_error(
                format!("the server answered page {} ({shown}) with the same body as the page before: it does not page", self.pages),
                "check the paging parameter names (`paging.page`, `offset`, `param`): the server seems to ignore them",
            );
        }
        self.last_hash = Some(facts.body_hash);
        let next = match &self.paging.style {
            Style::None => None,
            Style::Page {
                page,
                size,
                max,
                start,
            } => {
                let expected = match (size, max) {
                    (Some(_), Some(m)) => Some(*m),
                    _ => {
                        if self.learnt.is_none() {
                            self.learnt = Some(facts.count);
                        }
                        self.learnt
                    }
                };
                if facts.count == 0 || expected.is_some_and(|e| facts.count < e) {
                    None
                } else {
                    let mut u = self.first.clone();
                    set_param(&mut u, page, &(start + self.pages).to_string());
                    Some(u)
                }
            }
            Style::Offset {
                offset, max, start, ..
            } => {
                if facts.count == 0 || facts.count < *max {
                    None
                } else {
                    let mut u = self.first.clone();
                    set_param(&mut u, offset, &(start + self.records).to_string());
                    Some(u)
                }
            }
            Style::Cursor { param, cursor } => match (&facts.cursor, facts.count) {
                (None, _) | (_, 0) => None,
                (Some(c), _) => {
                    if !self.seen.insert(c.clone()) {
                        return loop_error(
                            format!(
                                "the server sent the cursor of page {} again (at `{}` in {shown}): paging would never end",
                                self.pages,
                                cursor.join(".")
                            ),
                            "check `paging.cursor` (the path of the NEXT cursor) and `paging.param`",
                        );
                    }
                    let mut u = self.first.clone();
                    set_param(&mut u, param, c);
                    Some(u)
                }
            },
            Style::Link | Style::NextUrl { .. } => match (&facts.next, facts.count) {
                (None, _) | (_, 0) => None,
                (Some(n), _) => {
                    if !self.seen.insert(n.as_str().to_string()) {
                        return loop_error(
                            format!(
                                "the server links page {} ({shown}) to a page it already read: paging would never end",
                                self.pages
                            ),
                            if matches!(self.paging.style, Style::Link) {
                                "the `Link: rel=\"next\"` header goes round; check the server"
                            } else {
                                "check `paging.next` (the path of the NEXT page's URL)"
                            },
                        );
                    }
                    Some(n.clone())
                }
            },
        };
        if next.is_some() && self.pages >= self.paging.max_pages {
            return loop_error(
                format!(
                    "stopped after {} pages ({} records; last {shown}): the server has more pages than `paging.max_pages` allows",
                    self.pages, self.records
                ),
                "raise `paging.max_pages` if the catalog is that big, or check the paging options",
            );
        }
        if let Some(n) = &next {
            // The first URL is 'seen' too: a link back to it is a loop.
            if self.pages == 1 {
                self.seen.insert(self.first.as_str().to_string());
                if n == &self.first {
                    return loop_error(
                        format!("the server links page 1 ({shown}) to itself"),
                        "check the paging options",
                    );
                }
            }
        }
        Ok(next)
    }
}

/// Set a query parameter: its value replaced where it is, or appended.
pub fn set_param(u: &mut Url, name: &str, value: &str) {
    let mut found = false;
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            if k == name && !found {
                found = true;
                (k.into_owned(), value.to_string())
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    let mut q = u.query_pairs_mut();
    q.clear();
    for (k, v) in &pairs {
        q.append_pair(k, v);
    }
    if !found {
        q.append_pair(name, value);
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288), resolved
/// against `base`.
pub fn link_next(headers: &reqwest::header::HeaderMap, base: &Url) -> Option<Url> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        for link in split_links(text) {
            let link = link.trim();
            let Some(rest) = link.strip_prefix('<') else {
                continue;
            };
            let Some((target, params)) = rest.split_once('>') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return base.join(target.trim()).ok();
            }
        }
    }
    None
}

/// Split a Link header at the commas between links (not inside `<...>` or
/// quotes).
fn split_links(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_angle, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    #[test]
    fn link_header_next() {
        let base = Url::parse("https://h.example/api/products?page=1").unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                r#"<https://h.example/api/products?page=1>; rel="prev first", </api/products?page=3&a=b,c>; rel="next""#,
            ),
        );
        assert_eq!(
            link_next(&h, &base).unwrap().as_str(),
            "https://h.example/api/products?page=3&a=b,c"
        );
        h.insert(LINK, HeaderValue::from_static(r#"<x>; rel="last""#));
        assert_eq!(link_next(&h, &base), None);
    }

    #[test]
    fn set_param_replaces() {
        let mut u = Url::parse("https://h/p?page=1&x=y").unwrap();
        set_param(&mut u, "page", "2");
        assert_eq!(u.as_str(), "https://h/p?page=2&x=y");
        set_param(&mut u, "cursor", "a b");
        assert_eq!(u.as_str(), "https://h/p?page=2&x=y&cursor=a+b");
    }

    #[test]
    fn page_stops_on_a_short_page() {
        let p = Paging {
            style: Style::Page {
                page: "page".into(),
                size: Some("per_page".into()),
                max: Some(10),
                start: 1,
            },
            max_pages: 100,
        };
        let mut w = Walker::new(p, Url::parse("https://h/p?page=1&per_page=10").unwrap());
        let f = |count, hash| PageFacts {
            count,
            body_hash: hash,
            ..PageFacts::default()
        };
        let n = w.next(&f(10, 1), "x").unwrap().unwrap();
        assert_eq!(n.as_str(), "https://h/p?page=2&per_page=10");
        assert!(w.next(&f(10, 1), "x").is_err(), "same body twice");
        let mut w = Walker::new(w.paging.clone(), w.first.clone());
        w.next(&f(10, 1), "x").unwrap().unwrap();
        assert_eq!(w.next(&f(3, 2), "x").unwrap(), None);
    }
}
