//! The sandbox: an emulated Shopify store (see `docs/sandbox.md`).
