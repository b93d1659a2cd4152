//! Write-back request templates (minijinja, in the project's sandboxed
//! environment: strict undefined variables, a fuel limit, no loader — so
//! no file access — and outputs bounded in size).
//!
//! * A **path** template percent-encodes every value it prints (`{{ key }}`
//!   with `A/B 1` gives `A%2FB%201`); `{{ key | safe }}` prints it as is.
//! * A **body** is either a string — a template whose output is JSON text,
//!   printed values are JSON-encoded (`{"id": {{ sync_id }}}` gives
//!   `{"id": "gid-1"}` or `{"id": null}`) — or a JSON **shape**: objects
//!   and lists as written, and each string in it a template. A string that
//!   is exactly one `{{ expression }}` keeps the expression's type (a list,
//!   null, a number); other strings with `{{`/`{%` are text templates; the
//!   rest are literal. Object keys may be templates too.

use std::io::Write as _;

use minijinja::{AutoEscape, Environment};
use serde_json::Value;

use crate::error::RestError;

/// Largest path a template may render.
pub const PATH_LIMIT: usize = 8 * 1024;

/// Largest body a template may render.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

const URL_ESCAPE: AutoEscape = AutoEscape::Custom("url");

/// The compiled templates of one source.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

/// A body: a template (JSON text) or a shape.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A literal value.
    Literal(Value),
    /// One expression, its value kept as it is.
    Expr(String),
    /// A text template (by name), rendered to a string.
    Text(String),
    /// A string template (by name) whose output is JSON text.
    Json(String),
    /// A list.
    List(Vec<Shape>),
    /// An object; keys may be templates.
    Object(Vec<(Key, Shape)>),
}

/// An object key of a shape.
#[derive(Debug, Clone)]
pub enum Key {
    /// As written.
    Literal(String),
    /// A text template (by name).
    Text(String),
}

fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The expression of a string that is exactly `{{ expression }}`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-');
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

/// Percent-encode everything but the unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A writer that fails past a size.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::Error::other("output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl Templates {
    /// An empty set.
    pub fn new() -> Templates {
        let mut env = mapsync_config::template::environment();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".path") {
                URL_ESCAPE
            } else if name.ends_with(".json") {
                AutoEscape::Json
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == URL_ESCAPE {
                if value.is_safe() {
                    return out
                        .write_str(value.as_str().unwrap_or_default())
                        .map_err(minijinja::Error::from);
                }
                let text = if value.is_none() {
                    String::new()
                } else {
                    value.to_string()
                };
                return out
                    .write_str(&encode_segment(&text))
                    .map_err(minijinja::Error::from);
            }
            minijinja::escape_formatter(out, state, value)
        });
        Templates { env }
    }

    /// Add a path template under `name` (`writeback.product.path`).
    pub fn add_path(&mut self, name: &str, source: &str) -> Result<String, RestError> {
        let name = if name.ends_with(".path") {
            name.to_string()
        } else {
            format!("{name}.path")
        };
        self.add(&name, source)?;
        Ok(name)
    }

    fn add(&mut self, name: &str, source: &str) -> Result<(), RestError> {
        self.env
            .add_template_owned(name.to_string(), source.to_string())
            .map_err(|e| {
                RestError::config(
                    format!(
                        "the template `{}` does not parse: {}",
                        name.trim_end_matches(".path").trim_end_matches(".json"),
                        e.detail().unwrap_or("syntax error")
                    ),
                    "fix the minijinja syntax (`{{ key }}`, `{% if ... %}`)",
                )
            })
    }

    /// Compile a body (a template string or a shape) under `name`.
    pub fn add_shape(&mut self, name: &str, body: &Value) -> Result<Shape, RestError> {
        Ok(match body {
            Value::String(s) => {
                let n = format!("{name}.json");
                self.add(&n, s)?;
                Shape::Json(n)
            }
            other => self.shape(name, other)?,
        })
    }

    fn shape(&mut self, name: &str, v: &Value) -> Result<Shape, RestError> {
        Ok(match v {
            Value::String(s) if has_template(s) => match single_expression(s) {
                Some(expr) => {
                    self.env.compile_expression(expr).map_err(|e| {
                        RestError::config(
                            format!(
                                "the expression `{expr}` in `{name}` does not parse: {}",
                                e.detail().unwrap_or("syntax error")
                            ),
                            "fix the minijinja expression",
                        )
                    })?;
                    Shape::Expr(expr.to_string())
                }
                None => {
                    self.add(name, s)?;
                    Shape::Text(name.to_string())
                }
            },
            Value::Array(items) => Shape::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.shape(&format!("{name}.{i}"), x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, x) in m {
                    let key = if has_template(k) {
                        let n = format!("{name}.{k}#key");
                        self.add(&n, k)?;
                        Key::Text(n)
                    } else {
                        Key::Literal(k.clone())
                    };
                    out.push((key, self.shape(&format!("{name}.{k}"), x)?));
                }
                Shape::Object(out)
            }
            other => Shape::Literal(other.clone()),
        })
    }

    /// Render the template `name` to text, at most `limit` bytes.
    pub fn render(
        &self,
        name: &str,
        ctx: &minijinja::Value,
        limit: usize,
    ) -> Result<String, String> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| format!("template `{name}`: {e}"))?;
        let mut out = Bounded {
            buf: Vec::new(),
            limit,
        };
        t.render_captured_to(ctx, &mut out).map_err(|e| {
            if out.buf.len() >= limit.saturating_sub(1024) {
                format!("the output of `{name}` is larger than {limit} bytes")
            } else {
                render_error(name, &e)
            }
        })?;
        out.flush().ok();
        String::from_utf8(out.buf).map_err(|_| format!("the output of `{name}` is not UTF-8"))
    }

    /// Evaluate a shape to a JSON value.
    pub fn eval(&self, shape: &Shape, ctx: &minijinja::Value) -> Result<Value, String> {
        Ok(match shape {
            Shape::Literal(v) => v.clone(),
            Shape::Expr(expr) => {
                let e = self
                    .env
                    .compile_expression(expr)
                    .map_err(|e| render_error(expr, &e))?;
                let v = e.eval(ctx).map_err(|e| render_error(expr, &e))?;
                if v.is_undefined() {
                    return Err(format!("`{expr}` is undefined"));
                }
                serde_json::to_value(&v).map_err(|e| format!("`{expr}`: {e}"))?
            }
            Shape::Text(name) => Value::String(self.render(name, ctx, BODY_LIMIT)?),
            Shape::Json(name) => {
                let text = self.render(name, ctx, BODY_LIMIT)?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("the body template renders text that is not JSON ({e})"))?
            }
            Shape::List(items) => Value::Array(
                items
                    .iter()
                    .map(|s| self.eval(s, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Shape::Object(entries) => {
                let mut m = serde_json::Map::new();
                for (k, s) in entries {
                    let key = match k {
                        Key::Literal(k) => k.clone(),
                        Key::Text(name) => self.render(name, ctx, PATH_LIMIT)?,
                    };
                    m.insert(key, self.eval(s, ctx)?);
                }
                Value::Object(m)
            }
        })
    }
}

fn render_error(name: &str, e: &minijinja::Error) -> String {
    let what = match e.kind() {
        minijinja::ErrorKind::UndefinedError => "an undefined variable".to_string(),
        minijinja::ErrorKind::OutOfFuel => "it ran out of fuel (a loop too long)".to_string(),
        _ => e.detail().unwrap_or("a runtime error").to_string(),
    };
    format!("the template `{name}` failed: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Value) -> minijinja::Value {
        minijinja::Value::from_serialize(&v)
    }

    #[test]
    fn paths_encode_values() {
        let mut t = Templates::new();
        let n = t
            .add_path("p", "/products/{{ key }}?x={{ sync_id }}")
            .unwrap();
        let out = t
            .render(
                &n,
                &ctx(json!({"key": "A/B 1", "sync_id": null})),
                PATH_LIMIT,
            )
            .unwrap();
        assert_eq!(out, "/products/A%2FB%201?x=");
        let n = t.add_path("q", "/p/{{ key | safe }}").unwrap();
        assert_eq!(
            t.render(&n, &ctx(json!({"key": "a/b"})), PATH_LIMIT)
                .unwrap(),
            "/p/a/b"
        );
    }

    #[test]
    fn shapes_keep_types_and_strings_render() {
        let mut t = Templates::new();
        let s = t
            .add_shape(
                "b",
                &json!({"id": "{{ sync_id }}", "msg": "sync: {{ sync_msg }}", "{{ fields.sync_date }}": "{{ sync_date }}", "n": 1}),
            )
            .unwrap();
        let v = t
            .eval(
                &s,
                &ctx(json!({"sync_id": null, "sync_msg": "ok", "sync_date": "2025-01-01T00:00:00Z", "fields": {"sync_date": "SyncDate"}})),
            )
            .unwrap();
        assert_eq!(
            v,
            json!({"id": null, "msg": "sync: ok", "SyncDate": "2025-01-01T00:00:00Z", "n": 1})
        );
        let s = t
            .add_shape("j", &json!(r#"{"id": {{ sync_id }}, "k": {{ key }}}"#))
            .unwrap();
        let v = t
            .eval(&s, &ctx(json!({"sync_id": "g\"1", "key": "K"})))
            .unwrap();
        assert_eq!(v, json!({"id": "g\"1", "k": "K"}));
    }

    #[test]
    fn undefined_and_runaway_templates_fail() {
        let mut t = Templates::new();
        let s = t.add_shape("u", &json!({"x": "{{ nope }}"})).unwrap();
        assert!(t.eval(&s, &ctx(json!({}))).is_err());
        let n = t
            .add_path("loop", "{% for i in range(100000) %}{{ i }}{% endfor %}")
            .unwrap();
        assert!(t.render(&n, &ctx(json!({})), PATH_LIMIT).is_err());
        assert!(t.add_path("bad", "{{ key").is_err());
    }
}
