//! Faults of the emulated BigCommerce store: a seeded random generator
//! (same seed, same faults for the same request sequence) and a queue of
//! scripted faults (`POST /__sandbox/faults`), each optionally aimed at a
//! route (`"POST /catalog/products"`) or a group (`read`, `write`,
//! `products`, `variants`, `images`, `inventory`, `categories`). Must not
//! speak HTTP.

use std::str::FromStr;

use rand::Rng;

use crate::SandboxError;

/// Kinds of injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BcFaultKind {
    /// HTTP 500, 502 or 503 with a v3 error body.
    Http5xx,
    /// HTTP 429 without any rate-limit header.
    TooManyRequests,
    /// Answer only after the timeout delay (60 s by default).
    Timeout,
    /// Close the connection without answering.
    Reset,
    /// The change is made, then the connection is closed: a lost answer
    /// (`reset` after the request).
    Lost,
}

impl BcFaultKind {
    /// The name in flags, scripts and stats.
    pub fn name(self) -> &'static str {
        match self {
            BcFaultKind::Http5xx => "5xx",
            BcFaultKind::TooManyRequests => "429",
            BcFaultKind::Timeout => "timeout",
            BcFaultKind::Reset => "reset",
            BcFaultKind::Lost => "lost",
        }
    }
}

impl FromStr for BcFaultKind {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "5xx" => BcFaultKind::Http5xx,
            "429" | "throttle" => BcFaultKind::TooManyRequests,
            "timeout" => BcFaultKind::Timeout,
            "reset" => BcFaultKind::Reset,
            "lost" | "drop" => BcFaultKind::Lost,
            other => {
                return Err(SandboxError::Config(format!(
                    "unknown fault '{other}' (5xx, 429, timeout, reset, lost)"
                )))
            }
        })
    }
}

/// Parse a comma-separated fault list (`5xx,429,timeout,reset,lost`).
pub fn parse_bc_faults(list: &str) -> Result<Vec<BcFaultKind>, SandboxError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(BcFaultKind::from_str)
        .collect()
}

/// A fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcFault {
    pub kind: BcFaultKind,
    /// For `5xx`, `timeout` and `reset`: strike after the request was
    /// applied (the change is made, the answer is lost). Always for `lost`.
    pub after: bool,
    /// For `5xx`: the status.
    pub status: u16,
}

/// Groups of routes a fault can aim at.
pub const GROUPS: &[&str] = &[
    "read",
    "write",
    "products",
    "variants",
    "options",
    "images",
    "custom-fields",
    "metafields",
    "brands",
    "categories",
    "inventory",
    "locations",
];

/// Whether `route` (`METHOD /template`) is in `group` (a route or one of
/// [`GROUPS`]).
pub fn route_in(route: &str, group: &str) -> bool {
    let (method, path) = route.split_once(' ').unwrap_or(("", route));
    let has = |s: &str| path.contains(s);
    match group {
        "read" => method == "GET",
        "write" => method != "GET",
        "products" => path == "/catalog/products" || path == "/catalog/products/{product_id}",
        "variants" => has("/variants") && !has("/metafields"),
        "options" => has("/options"),
        "images" => has("/images"),
        "custom-fields" => has("/custom-fields"),
        "metafields" => has("/metafields"),
        "brands" => has("/brands"),
        "categories" => has("/trees") || has("/categories"),
        "inventory" => path.starts_with("/inventory/adjustments") || path.ends_with("/items"),
        "locations" => path == "/inventory/locations",
        exact => exact == route,
    }
}

/// A fault queued by `POST /__sandbox/faults`.
pub type Scripted = crate::script::Scripted<BcFault>;

/// The seeded generator and the script.
#[derive(Debug)]
pub struct Faults {
    draws: crate::script::Draws<BcFault, BcFaultKind>,
}

impl Faults {
    pub fn new(rate: f64, kinds: Vec<BcFaultKind>, seed: u64) -> Self {
        Faults {
            draws: crate::script::Draws::new(rate, kinds, seed),
        }
    }

    /// Queue faults of the next requests, in order.
    pub fn script(&mut self, faults: impl IntoIterator<Item = Scripted>) {
        self.draws.script(faults);
    }

    /// Drop the queued faults; returns how many there were.
    pub fn clear(&mut self) -> usize {
        self.draws.clear()
    }

    /// Queued faults not taken yet.
    pub fn pending(&self) -> usize {
        self.draws.pending()
    }

    /// The fault of the next request to `route`: the first queued one that
    /// applies to it, else a random draw.
    pub fn draw_for(&mut self, route: &str) -> Option<BcFault> {
        let (kind, rng) = match self.draws.draw_for(route, route_in) {
            Err(scripted) => return scripted,
            Ok(None) => return None,
            Ok(Some(drawn)) => drawn,
        };
        let coin = rng.random_bool(0.5);
        let after = match kind {
            BcFaultKind::Lost => true,
            BcFaultKind::TooManyRequests => false,
            _ => coin,
        };
        // A 503 says the request was not processed: it never comes after
        // the change was made (a gateway that lost the answer says 502 or
        // 504, a failing server 500).
        let status = if after {
            [500, 502, 504][rng.random_range(0..3)]
        } else {
            [500, 502, 503][rng.random_range(0..3)]
        };
        Some(BcFault {
            kind,
            after,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_repeat_for_a_seed_and_scripts_wait_for_their_route() {
        let kinds = parse_bc_faults("5xx,429,timeout,reset,lost").unwrap();
        let mut a = Faults::new(0.5, kinds.clone(), 7);
        let mut b = Faults::new(0.5, kinds, 7);
        let da: Vec<_> = (0..80)
            .map(|_| a.draw_for("GET /catalog/products"))
            .collect();
        let db: Vec<_> = (0..80)
            .map(|_| b.draw_for("GET /catalog/products"))
            .collect();
        assert_eq!(da, db);
        assert!(da
            .iter()
            .flatten()
            .all(|f| f.kind != BcFaultKind::Lost || f.after));
        assert!(da
            .iter()
            .flatten()
            .all(|f| f.kind != BcFaultKind::TooManyRequests || !f.after));
        assert!(parse_bc_faults("5xx,lightning").is_err());

        let lost = BcFault {
            kind: BcFaultKind::Lost,
            after: true,
            status: 500,
        };
        let mut q = Faults::new(0.0, Vec::new(), 0);
        q.script([Scripted {
            fault: Some(lost),
            route: Some("POST /catalog/products".into()),
        }]);
        assert_eq!(q.draw_for("GET /catalog/products"), None);
        assert_eq!(q.draw_for("POST /catalog/products"), Some(lost));
        assert!(route_in("PUT /catalog/variants", "variants"));
        assert!(route_in("PUT /inventory/adjustments/absolute", "inventory"));
        assert!(!route_in("GET /catalog/products", "write"));
    }
}
