//! The Shopify side, one test binary: the GraphQL documents against the real
//! Admin schema, the HTTP client and the read and write sides, and the
//! sandbox store (its HTTP surface, business-rule cases, fidelity to the
//! schema and its CLI).

#[path = "../common/shopify_schema.rs"]
mod shopify_schema;
#[path = "../common/shopify_server.rs"]
mod shopify_server;

mod sandbox_support;

mod find_by;
mod graphql_documents;
mod sandbox_accepts_client;
mod sandbox_cases;
mod sandbox_cli;
mod sandbox_fidelity;
mod sandbox_http;
mod shopify_client;
mod shopify_read;
mod shopify_write;
