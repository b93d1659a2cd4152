//! Records to desired documents (being built).
