//! The `shopify` target: Shopify Admin GraphQL API (real shops and the sandbox).
