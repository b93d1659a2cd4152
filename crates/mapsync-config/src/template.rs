//! The sandboxed template environment (minijinja): strict undefined
//! variables, a fuel limit so no template can run away, no file loader.
//! Used to check template syntax at `validate` and to render values at
//! `plan`. No I/O.

use minijinja::{Environment, UndefinedBehavior};

/// Fuel per template render: bounds loops and recursion.
pub const FUEL: u64 = 50_000;

/// A new sandboxed environment.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}
