//! The faults of the emulated REST services (the PIM and the BigCommerce
//! store): a queue of scripted faults for the next requests, each waiting
//! for a route or a group of routes, and the seeded random draw.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A fault queued by `POST /__sandbox/faults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted<F> {
    /// `None`: the request goes through.
    pub fault: Option<F>,
    /// The route or group it waits for; `None` takes the next request.
    pub route: Option<String>,
}

/// The seeded generator and the script of one service.
#[derive(Debug)]
pub struct Draws<F, K> {
    rate: f64,
    kinds: Vec<K>,
    rng: StdRng,
    scripted: VecDeque<Scripted<F>>,
}

impl<F, K: Copy> Draws<F, K> {
    /// Faults of `kinds` at `rate` (0 to 1), repeatable for a `seed`.
    pub fn new(rate: f64, kinds: Vec<K>, seed: u64) -> Self {
        Draws {
            rate,
            kinds,
            rng: StdRng::seed_from_u64(seed),
            scripted: VecDeque::new(),
        }
    }

    /// Queue faults of the next requests, in order.
    pub fn script(&mut self, faults: impl IntoIterator<Item = Scripted<F>>) {
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

    /// The first queued fault that applies to `route` (per `route_in`),
    /// else a random draw: `Some(kind)` with the generator to draw the
    /// fault's details from, or nothing.
    pub fn draw_for(
        &mut self,
        route: &str,
        route_in: fn(&str, &str) -> bool,
    ) -> Result<Option<(K, &mut StdRng)>, Option<F>> {
        let first = self
            .scripted
            .iter()
            .position(|s| s.route.as_deref().is_none_or(|g| route_in(route, g)));
        if let Some(s) = first.and_then(|i| self.scripted.remove(i)) {
            return Err(s.fault);
        }
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return Ok(None);
        }
        let hit: f64 = self.rng.random();
        if hit >= self.rate {
            return Ok(None);
        }
        let kind = self.kinds[self.rng.random_range(0..self.kinds.len())];
        Ok(Some((kind, &mut self.rng)))
    }
}
