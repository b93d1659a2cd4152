//! Cursor pagination as Shopify does it: `first`/`after`, `last`/`before`,
//! `reverse`, at most 250 per page, opaque base64 cursors naming the sort key
//! of the last item. Also the `PageInfo` type and the connection macro.
//! Pure: works on iterators the resolvers give it.

use std::cmp::Ordering;

use async_graphql::{Error, SimpleObject};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Most items one page may ask for.
pub const MAX_PAGE: i32 = 250;

/// The sort key of an item: a value (empty when sorting by id) and the id.
pub type Key = (String, u64);

/// Paging arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    pub reverse: bool,
    /// Bulk operations read whole connections.
    pub unbounded: bool,
}

/// Shopify's `PageInfo`.
#[derive(SimpleObject, Debug, Clone, Default)]
#[graphql(name = "PageInfo")]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
}

/// One page: items with their cursors.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub info: PageInfo,
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    last_id: u64,
    last_value: String,
}

/// Encode a cursor.
pub fn encode(key: &Key) -> String {
    let data = CursorData {
        last_id: key.1,
        last_value: key.0.clone(),
    };
    let json = serde_json::to_vec(&data).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// Decode a cursor.
pub fn decode(cursor: &str) -> Result<Key, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .map_err(|_| {
            Error::new(format!(
                "Invalid cursor for current pagination sort: {cursor}"
            ))
        })?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| {
        Error::new(format!(
            "Invalid cursor for current pagination sort: {cursor}"
        ))
    })?;
    Ok((data.last_value, data.last_id))
}

impl PageArgs {
    /// Check the arguments as Shopify does.
    pub fn check(&self) -> Result<(), Error> {
        if self.unbounded {
            return Ok(());
        }
        match (self.first, self.last) {
            (None, None) => return Err(Error::new("you must provide one of first or last")),
            (Some(_), Some(_)) => {
                return Err(Error::new("providing both first and last is not supported"))
            }
            _ => {}
        }
        for n in [self.first, self.last].into_iter().flatten() {
            if n < 0 {
                return Err(Error::new("first and last must be non-negative"));
            }
            if n > MAX_PAGE {
                return Err(Error::new(format!(
                    "The page size must be less than or equal to {MAX_PAGE}"
                )));
            }
        }
        Ok(())
    }

    /// The id in the `after` cursor (for fast id-ordered scans).
    pub fn after_key(&self) -> Result<Option<Key>, Error> {
        self.after.as_deref().map(decode).transpose()
    }
}

fn ord(a: &Key, b: &Key, reverse: bool) -> Ordering {
    if reverse {
        b.cmp(a)
    } else {
        a.cmp(b)
    }
}

/// Take one page from items already in page order (reversed when `reverse`).
pub fn page<T>(items: impl Iterator<Item = (Key, T)>, args: &PageArgs) -> Result<Page<T>, Error> {
    args.check()?;
    let after = args.after_key()?;
    let before = args.before.as_deref().map(decode).transpose()?;
    let reverse = args.reverse;
    let mut skipped = false;
    let items = items.skip_while(|(k, _)| {
        let skip = after
            .as_ref()
            .is_some_and(|a| ord(k, a, reverse) != Ordering::Greater);
        skipped |= skip;
        skip
    });
    let mut items = items.take_while(|(k, _)| {
        before
            .as_ref()
            .is_none_or(|b| ord(k, b, reverse) == Ordering::Less)
    });
    let (chosen, has_next, has_prev): (Vec<(Key, T)>, bool, bool) = match (args.first, args.last) {
        (_, Some(n)) => {
            let all: Vec<(Key, T)> = items.collect();
            let n = n as usize;
            let skip = all.len().saturating_sub(n);
            let has_prev = skip > 0 || skipped;
            (
                all.into_iter().skip(skip).collect(),
                before.is_some(),
                has_prev,
            )
        }
        (Some(n), None) => {
            let mut v: Vec<(Key, T)> = items.by_ref().take(n as usize + 1).collect();
            let more = v.len() > n as usize;
            v.truncate(n as usize);
            (v, more, after.is_some())
        }
        (None, None) => (items.collect(), false, after.is_some()),
    };
    let items: Vec<(String, T)> = chosen.into_iter().map(|(k, t)| (encode(&k), t)).collect();
    let info = PageInfo {
        start_cursor: items.first().map(|(c, _)| c.clone()),
        end_cursor: items.last().map(|(c, _)| c.clone()),
        has_next_page: has_next,
        has_previous_page: has_prev,
    };
    Ok(Page { items, info })
}

/// Declare a connection type and its edge type with Shopify's names.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $cname:literal, $ename:literal) => {
        #[doc = concat!("Shopify's `", $cname, "`.")]
        #[derive(async_graphql::SimpleObject)]
        #[graphql(name = $cname)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            pub nodes: Vec<$node>,
            pub page_info: $crate::gql::paging::PageInfo,
        }

        #[doc = concat!("Shopify's `", $ename, "`.")]
        #[derive(async_graphql::SimpleObject)]
        #[graphql(name = $ename)]
        pub struct $edge {
            pub cursor: String,
            pub node: $node,
        }

        impl $conn {
            /// Build the connection from one page.
            pub fn from_page(page: $crate::gql::paging::Page<$node>) -> Self {
                let mut edges = Vec::with_capacity(page.items.len());
                let mut nodes = Vec::with_capacity(page.items.len());
                for (cursor, node) in page.items {
                    nodes.push(node.clone());
                    edges.push($edge { cursor, node });
                }
                $conn {
                    edges,
                    nodes,
                    page_info: page.info,
                }
            }
        }
    };
}
pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u64) -> impl Iterator<Item = (Key, u64)> {
        (1..=n).map(|i| ((String::new(), i), i))
    }

    #[test]
    fn forward_pages_cover_everything_once() {
        let mut args = PageArgs {
            first: Some(3),
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let p = page(keys(10), &args).unwrap();
            seen.extend(p.items.iter().map(|(_, v)| *v));
            if !p.info.has_next_page {
                break;
            }
            args.after = p.info.end_cursor.clone();
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn last_and_before() {
        let args = PageArgs {
            last: Some(2),
            before: Some(encode(&(String::new(), 5))),
            ..Default::default()
        };
        let p = page(keys(10), &args).unwrap();
        assert_eq!(
            p.items.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(p.info.has_previous_page);
    }

    #[test]
    fn limits() {
        let none = PageArgs::default();
        assert!(page(keys(1), &none).is_err());
        let big = PageArgs {
            first: Some(251),
            ..Default::default()
        };
        assert!(page(keys(1), &big).is_err());
        let bad = PageArgs {
            first: Some(1),
            after: Some("???".into()),
            ..Default::default()
        };
        assert!(page(keys(1), &bad).is_err());
    }
}
