//! The `rest` target's options compiled: per entity the list (where an
//! item's id, key, published flag and handle are), the requests with their
//! templates, and the image requests.

use std::sync::Arc;

use mapsync_core::source::Entity;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::error::RestError;
use crate::http::Http;
use crate::options::{
    EntityOptions, ImagesOptions, ListOptions, RequestOptions, TargetEntityOptions, UploadEncoding,
};
use crate::paging::{self, dotted};
use crate::read::EntityReader;
use crate::template::{Shape, Templates};

/// One request: method, path template, body shape, and for a create where
/// the new id is in the answer.
#[derive(Debug)]
pub(crate) struct Req {
    /// `entities.product.create`, for messages.
    pub name: String,
    pub method: Method,
    /// The path template's name.
    pub path: String,
    pub body: Option<Shape>,
    /// `create`: where the new item's id is in the answer.
    pub id: Vec<String>,
}

fn method(m: Option<&str>, default: Method, field: &str) -> Result<Method, RestError> {
    let Some(m) = m else { return Ok(default) };
    match m.to_ascii_uppercase().as_str() {
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        other => Err(RestError::config(
            format!("`{field}` is `{other}`"),
            "write POST, PUT, PATCH or DELETE",
        )),
    }
}

impl Req {
    pub fn new(
        templates: &mut Templates,
        name: String,
        o: &RequestOptions,
        default: Method,
        id: Option<&str>,
    ) -> Result<Req, RestError> {
        let m = method(o.method.as_deref(), default, &format!("{name}.method"))?;
        let path = templates.add_path(&format!("{name}.path"), &o.path)?;
        let body = o
            .body
            .as_ref()
            .map(|b| templates.add_shape(&format!("{name}.body"), b))
            .transpose()?;
        Ok(Req {
            method: m,
            path,
            body,
            id: dotted(o.id.as_deref().or(id)),
            name,
        })
    }
}

/// `get:`: one item by its id.
#[derive(Debug)]
pub(crate) struct Get {
    /// The path template's name.
    pub path: String,
    /// Where the item is in the body.
    pub record: Vec<String>,
}

/// How one entity of the target is read and written.
#[derive(Debug)]
pub(crate) struct Spec {
    pub entity: Entity,
    /// The list: URL, records, paging.
    pub reader: Arc<EntityReader>,
    pub id: Vec<String>,
    pub key: Vec<String>,
    /// `list.key` as written: where a body puts the key.
    pub key_name: String,
    /// `list.published`: where the flag is, and its name for bodies.
    pub published: Option<(Vec<String>, String)>,
    pub handle: Option<Vec<String>>,
    /// `list.updated_at`: when the store last changed the item.
    pub updated_at: Option<Vec<String>>,
    pub key_param: Option<String>,
    pub get: Option<Get>,
    pub create: Req,
    pub update: Req,
    pub delete: Option<Req>,
    pub deactivate: Option<Req>,
    /// Products: where the category ids are, and the name for bodies.
    pub categories: Option<(Vec<String>, String)>,
}

/// Text of an id or key: a non-empty string, or a number.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a published flag says published: `false`, `0`, `"false"`,
/// `"0"`, `"no"`, `"off"`, `"inactive"`, `"draft"` and `"unpublished"`
/// (any case) do not; a missing flag does.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_none_or(|x| x != 0.0),
        Some(Value::String(s)) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | "off" | "inactive" | "draft" | "unpublished"
        ),
        Some(_) => true,
    }
}

/// The value at a dotted path of an item.
pub(crate) fn field<'a>(m: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    paging::at(m.get(first)?, rest)
}

impl Spec {
    pub fn new(
        entity: Entity,
        o: &TargetEntityOptions,
        http: &Http,
        templates: &mut Templates,
    ) -> Result<Spec, RestError> {
        let name = format!("entities.{entity}");
        let reader = EntityReader::new(
            entity,
            &EntityOptions {
                list: ListOptions {
                    path: o.list.path.clone(),
                    records: o.list.records.clone(),
                    query: o.list.query.clone(),
                },
                paging: o.paging.clone(),
                since: o.since.clone(),
                count: None,
            },
            http,
        )?;
        if o.list.key.trim().is_empty() {
            return Err(RestError::config(
                format!("`{name}.list.key` is empty"),
                "name the field where the store keeps mapsync's key, e.g. `external_id`",
            ));
        }
        let get = match &o.get {
            None => None,
            Some(g) => Some(Get {
                path: templates.add_path(&format!("{name}.get.path"), &g.path)?,
                record: dotted(g.record.as_deref()),
            }),
        };
        let req = |t: &mut Templates, what: &str, o: &RequestOptions, m: Method| {
            Req::new(t, format!("{name}.{what}"), o, m, None)
        };
        let create = Req::new(
            templates,
            format!("{name}.create"),
            &o.create,
            Method::POST,
            Some("id"),
        )?;
        let update = req(templates, "update", &o.update, Method::PUT)?;
        let delete = o
            .delete
            .as_ref()
            .map(|d| req(templates, "delete", d, Method::DELETE))
            .transpose()?;
        let deactivate = o
            .deactivate
            .as_ref()
            .map(|d| req(templates, "deactivate", d, Method::PATCH))
            .transpose()?;
        let categories = match (&o.categories, entity) {
            (Some(c), Entity::Product) => Some((dotted(Some(c)), c.clone())),
            (Some(_), Entity::Category) => {
                return Err(RestError::config(
                    format!("`{name}.categories` is set"),
                    "`categories` belongs to `entities.product`: the field of a product that holds its category ids",
                ))
            }
            (None, _) => None,
        };
        Ok(Spec {
            entity,
            reader: Arc::new(reader),
            id: dotted(Some(o.list.id.as_deref().unwrap_or("id"))),
            key: dotted(Some(&o.list.key)),
            key_name: o.list.key.clone(),
            published: o
                .list
                .published
                .as_ref()
                .map(|p| (dotted(Some(p)), p.clone())),
            handle: o.list.handle.as_deref().map(|h| dotted(Some(h))),
            updated_at: o.list.updated_at.as_deref().map(|h| dotted(Some(h))),
            key_param: o.list.key_param.clone(),
            get,
            create,
            update,
            delete,
            deactivate,
            categories,
        })
    }

    /// An item's id.
    pub fn id_of(&self, m: &Map<String, Value>) -> Option<String> {
        text(field(m, &self.id))
    }

    /// The key the item keeps (the ownership marker).
    pub fn marker_of(&self, m: &Map<String, Value>) -> Option<String> {
        text(field(m, &self.key))
    }

    /// Whether the item is published (always, without `list.published`).
    pub fn published_of(&self, m: &Map<String, Value>) -> bool {
        match &self.published {
            Some((p, _)) => truthy(field(m, p)),
            None => true,
        }
    }

    /// When the store last changed the item, if `list.updated_at` names
    /// its field (two-way runs read only the items changed since their
    /// sync).
    pub fn updated_at_of(&self, m: &Map<String, Value>) -> Option<String> {
        self.updated_at.as_ref().and_then(|p| text(field(m, p)))
    }

    /// The item's handle, if `list.handle` names one.
    pub fn handle_of(&self, m: &Map<String, Value>) -> String {
        self.handle
            .as_ref()
            .and_then(|h| text(field(m, h)))
            .unwrap_or_default()
    }
}

/// How images are read and written.
#[derive(Debug)]
pub(crate) struct ImageSpec {
    /// The list path template's name.
    pub list: String,
    pub records: Vec<String>,
    pub id: Vec<String>,
    pub url: Vec<String>,
    pub position: Option<Vec<String>>,
    /// `list.alt`: where an image's alt text is.
    pub alt: Option<Vec<String>>,
    pub add: Req,
    pub overwrite: Option<Req>,
    pub delete: Option<Req>,
    pub upload: Option<Upload>,
}

/// `images.upload`: how a file's bytes reach the store.
#[derive(Debug)]
pub(crate) struct Upload {
    pub method: Method,
    /// The path template's name.
    pub path: String,
    pub encoding: UploadEncoding,
    /// The multipart form's field of the file.
    pub field: String,
    /// Where the file's URL is in the answer.
    pub url: Vec<String>,
}

impl ImageSpec {
    pub fn new(o: &ImagesOptions, templates: &mut Templates) -> Result<ImageSpec, RestError> {
        let list = templates.add_path("images.list.path", &o.list.path)?;
        let add = Req::new(templates, "images.add".into(), &o.add, Method::POST, None)?;
        let overwrite = o
            .overwrite
            .as_ref()
            .map(|r| Req::new(templates, "images.overwrite".into(), r, Method::PUT, None))
            .transpose()?;
        let delete = o
            .delete
            .as_ref()
            .map(|r| Req::new(templates, "images.delete".into(), r, Method::DELETE, None))
            .transpose()?;
        let upload = match &o.upload {
            None => None,
            Some(u) => {
                let m = method(u.method.as_deref(), Method::POST, "images.upload.method")?;
                if m == Method::DELETE {
                    return Err(RestError::config(
                        "`images.upload.method` is `DELETE`",
                        "an upload sends the file: write POST, PUT or PATCH",
                    ));
                }
                let field = u.field.clone().unwrap_or_else(|| "file".into());
                if field.is_empty() || field.contains(['"', '\\', '\r', '\n']) {
                    return Err(RestError::config(
                        "`images.upload.field` is not a form field name",
                        "name the form field of the file, e.g. `file`",
                    ));
                }
                Some(Upload {
                    method: m,
                    path: templates.add_path("images.upload.path", &u.path)?,
                    encoding: u.encoding.unwrap_or_default(),
                    field,
                    url: dotted(Some(u.url.as_deref().unwrap_or("url"))),
                })
            }
        };
        Ok(ImageSpec {
            list,
            records: dotted(o.list.records.as_deref()),
            id: dotted(Some(o.list.id.as_deref().unwrap_or("id"))),
            url: dotted(Some(o.list.url.as_deref().unwrap_or("url"))),
            position: o.list.position.as_deref().map(|p| dotted(Some(p))),
            alt: o.list.alt.as_deref().map(|p| dotted(Some(p))),
            add,
            overwrite,
            delete,
            upload,
        })
    }
}
