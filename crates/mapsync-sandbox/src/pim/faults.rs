//! Faults of the emulated PIM: a seeded random generator (same seed, same
//! faults for the same request sequence) and a queue of scripted faults
//! (`POST /__sandbox/faults`), each optionally aimed at a route or a group
//! of routes. Must not speak HTTP.

use std::str::FromStr;

use rand::Rng;

use crate::SandboxError;

/// Kinds of injected faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PimFaultKind {
    /// HTTP 500, 502 or 503 with a JSON error.
    Http5xx,
    /// Answer only after the timeout delay (60 s by default).
    Timeout,
    /// Close the connection without answering.
    Reset,
    /// HTTP 429 with `Retry-After`.
    TooManyRequests,
}

impl PimFaultKind {
    /// The name in flags, scripts and stats.
    pub fn name(self) -> &'static str {
        match self {
            PimFaultKind::Http5xx => "5xx",
            PimFaultKind::Timeout => "timeout",
            PimFaultKind::Reset => "reset",
            PimFaultKind::TooManyRequests => "429",
        }
    }
}

impl FromStr for PimFaultKind {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "5xx" => PimFaultKind::Http5xx,
            "timeout" => PimFaultKind::Timeout,
            "reset" => PimFaultKind::Reset,
            // `throttle` is the Shopify sandbox's name for being rate limited.
            "429" | "throttle" => PimFaultKind::TooManyRequests,
            other => {
                return Err(SandboxError::Config(format!(
                    "unknown fault '{other}' (5xx, timeout, reset, 429)"
                )))
            }
        })
    }
}

/// Parse a comma-separated fault list (`5xx,timeout,reset,429`).
pub fn parse_pim_faults(list: &str) -> Result<Vec<PimFaultKind>, SandboxError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(PimFaultKind::from_str)
        .collect()
}

/// A fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PimFault {
    pub kind: PimFaultKind,
    /// For `5xx`, `timeout` and `reset`: strike after the request was
    /// applied (the change is made, the answer is lost).
    pub after: bool,
    /// For `5xx`: the status.
    pub status: u16,
    /// For `429`: the `Retry-After` seconds.
    pub retry_after: u64,
}

/// The routes of the API, as `METHOD /path` with axum's `{param}`s.
pub const ROUTES: &[&str] = &[
    "POST /oauth/token",
    "GET /categories",
    "PATCH /categories",
    "POST /categories",
    "GET /categories/count",
    "GET /categories/{key}",
    "PATCH /categories/{key}",
    "PUT /categories/{key}",
    "DELETE /categories/{key}",
    "GET /products",
    "PATCH /products",
    "POST /products",
    "GET /products/count",
    "GET /products/{key}",
    "PATCH /products/{key}",
    "PUT /products/{key}",
    "DELETE /products/{key}",
    "GET /products/{key}/images",
    "POST /products/{key}/images",
    "GET /images/count",
    "GET /images/{id}",
    "PUT /images/{id}",
    "DELETE /images/{id}",
    "POST /files",
    "PUT /files/{name}",
];

/// Groups of routes a fault can aim at.
pub const GROUPS: &[&str] = &["read", "writeback", "images", "store", "write", "token"];

/// Whether `route` (one of [`ROUTES`]) is in `group` (a route or one of
/// [`GROUPS`]).
pub fn route_in(route: &str, group: &str) -> bool {
    let writeback = matches!(
        route,
        "PATCH /products"
            | "PATCH /products/{key}"
            | "PATCH /categories"
            | "PATCH /categories/{key}"
    );
    let images = matches!(
        route,
        "POST /products/{key}/images"
            | "PUT /images/{id}"
            | "DELETE /images/{id}"
            | "POST /files"
            | "PUT /files/{name}"
    );
    // The store API's creates, updates and deletes of records.
    let store = matches!(
        route,
        "POST /products"
            | "PUT /products/{key}"
            | "DELETE /products/{key}"
            | "POST /categories"
            | "PUT /categories/{key}"
            | "DELETE /categories/{key}"
    );
    match group {
        "read" => route.starts_with("GET "),
        "writeback" => writeback,
        "images" => images,
        "store" => store,
        "write" => writeback || images || store,
        "token" => route == "POST /oauth/token",
        exact => exact == route,
    }
}

/// Whether `target` names a route or a group.
pub fn known_target(target: &str) -> bool {
    ROUTES.contains(&target) || GROUPS.contains(&target)
}

/// A fault queued by `POST /__sandbox/faults`.
pub type Scripted = crate::script::Scripted<PimFault>;

/// The seeded generator and the script.
#[derive(Debug)]
pub struct Faults {
    draws: crate::script::Draws<PimFault, PimFaultKind>,
    retry_after: u64,
}

impl Faults {
    pub fn new(rate: f64, kinds: Vec<PimFaultKind>, seed: u64, retry_after: u64) -> Self {
        Faults {
            draws: crate::script::Draws::new(rate, kinds, seed),
            retry_after,
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
    pub fn draw_for(&mut self, route: &str) -> Option<PimFault> {
        let (kind, rng) = match self.draws.draw_for(route, route_in) {
            Err(scripted) => return scripted,
            Ok(None) => return None,
            Ok(Some(drawn)) => drawn,
        };
        let after = rng.random_bool(0.5) && kind != PimFaultKind::TooManyRequests;
        let status = [500, 502, 503][rng.random_range(0..3)];
        Some(PimFault {
            kind,
            after,
            status,
            retry_after: self.retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_repeat_for_a_seed() {
        let kinds = parse_pim_faults("5xx,timeout,reset,429").unwrap();
        let mut a = Faults::new(0.5, kinds.clone(), 3, 1);
        let mut b = Faults::new(0.5, kinds, 3, 1);
        let da: Vec<_> = (0..60).map(|_| a.draw_for("GET /products")).collect();
        let db: Vec<_> = (0..60).map(|_| b.draw_for("GET /products")).collect();
        assert_eq!(da, db);
        assert!(da.iter().any(Option::is_some) && da.iter().any(Option::is_none));
        assert!(da
            .iter()
            .flatten()
            .all(|f| !(f.after && f.kind == PimFaultKind::TooManyRequests)));
        assert!(parse_pim_faults("5xx,lightning").is_err());
        assert_eq!(
            parse_pim_faults("throttle").unwrap(),
            vec![PimFaultKind::TooManyRequests]
        );
    }

    #[test]
    fn scripted_faults_wait_for_their_route() {
        let f = |kind| PimFault {
            kind,
            after: false,
            status: 500,
            retry_after: 1,
        };
        let mut q = Faults::new(0.0, Vec::new(), 0, 1);
        q.script([
            Scripted {
                fault: Some(f(PimFaultKind::Reset)),
                route: Some("writeback".into()),
            },
            Scripted {
                fault: Some(f(PimFaultKind::Http5xx)),
                route: Some("GET /products".into()),
            },
            Scripted {
                fault: None,
                route: None,
            },
        ]);
        assert_eq!(q.draw_for("GET /products"), Some(f(PimFaultKind::Http5xx)));
        assert_eq!(q.draw_for("GET /products"), None);
        assert_eq!(q.pending(), 1);
        assert_eq!(q.draw_for("GET /categories"), None);
        assert_eq!(
            q.draw_for("PATCH /products/{key}"),
            Some(f(PimFaultKind::Reset))
        );
        assert!(known_target("writeback") && known_target("PUT /images/{id}"));
        assert!(!known_target("GET /nothing"));
    }
}
