//! Shared helpers of the sandbox tests: start an in-process sandbox and talk
//! to it over real HTTP with reqwest.

use mapsync::sandbox::{self, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

pub struct Sb {
    pub handle: SandboxHandle,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

pub async fn start(config: SandboxConfig) -> Sb {
    let token = config.token.clone();
    let handle = sandbox::start(config).await.expect("sandbox starts");
    Sb {
        handle,
        client: reqwest::Client::new(),
        token,
    }
}

pub async fn start_default() -> Sb {
    start(SandboxConfig::default()).await
}

impl Sb {
    fn req(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.header("X-Shopify-Access-Token", t),
            None => rb,
        }
    }

    /// Send a GraphQL request; returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_at(sandbox::API_VERSION, query, variables).await
    }

    /// Send a GraphQL request to the endpoint of an API version.
    pub async fn gql_at(&self, version: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .req(self.client.post(self.handle.graphql_url_for(version)))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status(), 200, "GraphQL status");
        resp.json().await.expect("JSON response")
    }

    /// Send a GraphQL request that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let v = self.gql(query, variables).await;
        assert!(v.get("errors").is_none(), "unexpected errors: {v:#}");
        v["data"].clone()
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self
            .req(self.client.get(format!("{}{path}", self.handle.url())))
            .send()
            .await
            .expect("request sent");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let resp = self
            .req(self.client.post(format!("{}{path}", self.handle.url())))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }
}

pub const PRODUCT_SET: &str = r#"
mutation Set($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product {
      id handle title status
      options { name values }
      variants(first: 20) { nodes { id title sku price selectedOptions { name value }
        inventoryItem { id sku tracked unitCost { amount } countryCodeOfOrigin harmonizedSystemCode
          inventoryLevels(first: 5) { nodes { location { name } quantities(names: ["available", "on_hand"]) { name quantity } } } } } }
      media(first: 20) { nodes { ... on MediaImage { id alt image { url } } } }
      metafields(first: 20) { nodes { namespace key type value } }
      collections(first: 10) { nodes { id title } }
    }
    userErrors { field message code }
  }
}"#;

/// A simple product input with `n` variants of one option.
pub fn simple_product(title: &str, n: usize) -> Value {
    let values: Vec<Value> = (0..n).map(|i| json!({"name": format!("V{i}")})).collect();
    let variants: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "optionValues": [{"optionName": "Size", "name": format!("V{i}")}],
                "price": format!("{}.99", i + 1),
                "sku": format!("{title}-{i}"),
            })
        })
        .collect();
    json!({
        "title": title,
        "productOptions": [{"name": "Size", "values": values}],
        "variants": variants,
    })
}

/// A `multipart/form-data` body of text `fields` and a `file` part
/// (written by hand: the tests need no multipart client); gives the
/// content type with its boundary, and the body.
pub fn multipart(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "mapsync-sandbox-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
