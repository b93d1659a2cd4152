//! Faults of the emulated BigCommerce store: a seeded random generator
//! (same seed, same faults for the same request sequence) and a queue of
//! scripted faults (`POST /__sandbox/faults`), each optionally aimed at a
//! route (`"POST /catalog/products"`) or a group (`read`, `write`,
//! `products`, `variants`, `images`, `inventory`, `categories`). Must not
//! speak HTTP.

use std::collections::VecDeque;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    /// `None`: the request goes through.
    pub fault: Option<BcFault>,
    /// The route or group it waits for; `None` takes the next request.
    pub route: Option<String>,
}

/// The seeded generator and the script.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    kinds: Vec<BcFaultKind>,
    rng: StdRng,
    scripted: VecDeque<Scripted>,
}

impl Faults {
    pub fn new(rate: f64, kinds: Vec<BcFaultKind>, seed: u64) -> Self {
        Faults {
            rate,
            kinds,
            rng: StdRng::seed_from_u64(seed),
            scripted: VecDeque::new(),
        }
    }

    /// Queue faults of the next requests, in order.
    pub fn script(&mut self, faults: impl IntoIterator<Item = Scripted>) {
        self.scripted.extend(faults);
    }

    /// Drop the queued faults; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.scripted.len();
        self.scripted.clear();
        n
    }

    /// Queued faults not taken yet.
    pub fn pending(&self) -> usize {
        self.scripted.len()
    }

    /// The fault of the next request to `route`: the first queued one that
    /// applies to it, else a random draw.
    pub fn draw_for(&mut self, route: &str) -> Option<BcFault> {
        let first = self
            .scripted
            .iter()
            .position(|s| s.route.as_deref().is_none_or(|g| route_in(route, g)));
        if let Some(s) = first.and_then(|i| self.scripted.remove(i)) {
            return s.fault;
        }
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let hit: f64 = self.rng.random();
        if hit >= self.rate {
            return None;
        }
        let kind = self.kinds[self.rng.random_range(0..self.kinds.len())];
        let coin = self.rng.random_bool(0.5);
        let after = match kind {
            BcFaultKind::Lost => true,
            BcFaultKind::TooManyRequests => false,
            _ => coin,
        };
        let status = [500, 502, 503][self.rng.random_range(0..3)];
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
