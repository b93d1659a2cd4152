//! Rendering (being built).
