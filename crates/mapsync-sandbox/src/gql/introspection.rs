//! The standard introspection query and a helper that runs it against a
//! schema, for the cost tables and the fidelity test. No other logic.

use super::SandboxSchema;

/// The full introspection query (the shape of Shopify's published JSON).
pub const QUERY: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    types { ...FullType }
  }
}
fragment FullType on __Type {
  kind
  name
  fields(includeDeprecated: true) {
    name
    args { name type { ...TypeRef } defaultValue }
    type { ...TypeRef }
    isDeprecated
  }
  inputFields { name type { ...TypeRef } defaultValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name isDeprecated }
  possibleTypes { ...TypeRef }
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
}
"#;

/// Run the introspection query; returns `{"__schema": ...}`.
pub async fn introspect(schema: &SandboxSchema) -> serde_json::Value {
    let resp = schema.execute(QUERY).await;
    resp.data.into_json().unwrap_or(serde_json::Value::Null)
}
