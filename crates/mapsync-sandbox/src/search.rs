//! The `query:` argument of `products`, `collections` and `productVariants`:
//! a small subset of Shopify's search syntax — `field:value`,
//! `field:>value` (also `>=`, `<`, `<=`), `-field:value`, quoted values,
//! `prefix*`, bare words matching the title, terms joined by AND (the word
//! `AND` is optional), and groups of those joined by `OR` (AND binds
//! tighter, as in Shopify's syntax; no parentheses). Pure; must not know
//! the store layout.

/// A parsed search query: groups of terms joined by OR, the terms of a
/// group by AND.
#[derive(Debug, Clone, Default)]
pub struct Search {
    groups: Vec<Vec<Term>>,
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    field: Option<String>,
    op: Op,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in q.chars() {
        match (quote, c) {
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Search {
    /// Parse a query string.
    pub fn parse(q: &str) -> Self {
        let mut groups = Vec::new();
        let mut terms = Vec::new();
        for tok in tokens(q) {
            if tok == "AND" {
                continue;
            }
            if tok == "OR" {
                if !terms.is_empty() {
                    groups.push(std::mem::take(&mut terms));
                }
                continue;
            }
            let (negated, tok) = match tok.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => (true, rest.to_string()),
                _ => (false, tok),
            };
            let (field, rest) = match tok.split_once(':') {
                Some((f, v)) => (Some(f.to_ascii_lowercase()), v.to_string()),
                None => (None, tok),
            };
            let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
                (Op::Ge, v)
            } else if let Some(v) = rest.strip_prefix("<=") {
                (Op::Le, v)
            } else if let Some(v) = rest.strip_prefix('>') {
                (Op::Gt, v)
            } else if let Some(v) = rest.strip_prefix('<') {
                (Op::Lt, v)
            } else {
                (Op::Eq, rest.as_str())
            };
            terms.push(Term {
                negated,
                field,
                op,
                value: value.to_string(),
            });
        }
        if !terms.is_empty() {
            groups.push(terms);
        }
        Search { groups }
    }

    /// True when there is nothing to filter.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Does an item match? `values(field)` gives the item's values of a field
    /// (`None` for a field the item type does not know: the term is ignored).
    pub fn matches(&self, values: &dyn Fn(&str) -> Option<Vec<String>>) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|terms| {
                terms.iter().all(|t| {
                    let field = t.field.as_deref().unwrap_or("title");
                    let Some(vals) = values(field) else {
                        return true;
                    };
                    let hit = vals.iter().any(|v| term_matches(t, field, v));
                    hit != t.negated
                })
            })
    }
}

fn term_matches(t: &Term, field: &str, v: &str) -> bool {
    if field == "id" {
        let want = t.value.rsplit('/').next().unwrap_or(&t.value);
        return match (v.parse::<u64>(), want.parse::<u64>()) {
            (Ok(a), Ok(b)) => compare(t.op, a.cmp(&b)),
            _ => false,
        };
    }
    match t.op {
        Op::Eq => {
            let v = v.to_lowercase();
            let want = t.value.to_lowercase();
            match want.strip_suffix('*') {
                Some(prefix) => v.starts_with(prefix),
                None if t.field.is_none() => v.contains(&want),
                None => v == want,
            }
        }
        op => compare(op, v.cmp(t.value.as_str())),
    }
}

fn compare(op: Op, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(field: &str) -> Option<Vec<String>> {
        match field {
            "title" => Some(vec!["Blue Shirt".into()]),
            "handle" => Some(vec!["blue-shirt".into()]),
            "status" => Some(vec!["ACTIVE".into()]),
            "tag" => Some(vec!["summer".into(), "sale".into()]),
            "id" => Some(vec!["1005".into()]),
            "updated_at" => Some(vec!["2025-01-02T10:00:00Z".into()]),
            _ => None,
        }
    }

    #[test]
    fn terms() {
        let yes = [
            "handle:blue-shirt",
            "status:active",
            "tag:sale AND tag:summer",
            "id:>1000",
            "id:>=gid://shopify/Product/1005",
            "updated_at:>'2025-01-01T00:00:00Z'",
            "blue",
            "handle:blue*",
            "-tag:winter",
            "unknown_field:x",
            "handle:red-shirt OR handle:blue-shirt",
            "handle:'a' OR status:draft OR tag:sale AND status:active",
        ];
        let no = [
            "handle:blue",
            "status:draft",
            "id:<1005",
            "-tag:sale",
            "updated_at:>2025-02-01",
            "handle:red-shirt OR handle:green-shirt",
            "handle:blue-shirt AND status:draft OR tag:winter",
        ];
        for q in yes {
            assert!(Search::parse(q).matches(&item), "{q}");
        }
        for q in no {
            assert!(!Search::parse(q).matches(&item), "{q}");
        }
    }
}
