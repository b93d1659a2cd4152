//! Two-way sync by field (spec/two-way.md): the direction of a mapped
//! field, what decides a conflict, and the three-way classification of a
//! field from the hash of the value last synced, the source's value and
//! the target's current value — then the action its direction and policy
//! take. Pure: the hashes come from the caller (the ledger's field hashes,
//! [`crate::diff`]'s hashing), nothing here does I/O.

use serde::{Deserialize, Serialize};

/// Which way a mapped field flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The source's value is written to the target (the default).
    #[default]
    ToTarget,
    /// The target's value is written back to the source.
    ToSource,
    /// Whichever side changed since the last sync wins; `conflict` decides
    /// when both did.
    Both,
}

impl Direction {
    /// The word of the mapping format.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToTarget => "to_target",
            Direction::ToSource => "to_source",
            Direction::Both => "both",
        }
    }

    /// Parse the mapping format's word.
    pub fn parse(word: &str) -> Option<Direction> {
        match word {
            "to_target" => Some(Direction::ToTarget),
            "to_source" => Some(Direction::ToSource),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    /// Whether the field needs the target's current value and the synced
    /// hash (anything but `to_target`).
    pub fn is_two_way(self) -> bool {
        self != Direction::ToTarget
    }
}

/// What decides a field changed on both sides (`direction: both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The source's value is written to the target (the default).
    #[default]
    SourceWins,
    /// The target's value is written to the source.
    TargetWins,
    /// The side edited last wins (updated-at on both sides; ties go to the
    /// source).
    Newest,
    /// The item is held until someone picks a side (`mapsync resolve`).
    Manual,
}

impl Conflict {
    /// The word of the mapping format.
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::SourceWins => "source_wins",
            Conflict::TargetWins => "target_wins",
            Conflict::Newest => "newest",
            Conflict::Manual => "manual",
        }
    }

    /// Parse the mapping format's word.
    pub fn parse(word: &str) -> Option<Conflict> {
        match word {
            "source_wins" => Some(Conflict::SourceWins),
            "target_wins" => Some(Conflict::TargetWins),
            "newest" => Some(Conflict::Newest),
            "manual" => Some(Conflict::Manual),
            _ => None,
        }
    }
}

/// One side of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The source (the PIM).
    Source,
    /// The target (the store).
    Target,
}

impl Side {
    /// `source` or `target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }

    /// Parse `source` / `target`.
    pub fn parse(word: &str) -> Option<Side> {
        match word {
            "source" => Some(Side::Source),
            "target" => Some(Side::Target),
            _ => None,
        }
    }
}

/// What happened to a field since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldState {
    /// Both sides hold the value last synced.
    Unchanged,
    /// Only the source changed.
    ChangedInSource,
    /// Only the target changed.
    ChangedInTarget,
    /// Both changed, to the same value: nothing to write (the new value is
    /// recorded as synced).
    ChangedInBothSame,
    /// Both changed, to different values (also: the two sides differ and
    /// no value was ever synced, so nobody can tell which side moved).
    Conflict,
}

/// Classify one field from three hashes (the diff's field hashes, so two
/// values the target treats as equal hash alike): the value last synced
/// (`None`: never synced, or a ledger from before), the source's value and
/// the target's current value.
pub fn classify(synced: Option<&str>, source: &str, target: &str) -> FieldState {
    let Some(synced) = synced else {
        return if source == target {
            FieldState::ChangedInBothSame
        } else {
            FieldState::Conflict
        };
    };
    match (source == synced, target == synced) {
        (true, true) => FieldState::Unchanged,
        (false, true) => FieldState::ChangedInSource,
        (true, false) => FieldState::ChangedInTarget,
        (false, false) if source == target => FieldState::ChangedInBothSame,
        (false, false) => FieldState::Conflict,
    }
}

/// What a run does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to write (record the synced hash when it moved).
    None,
    /// Write the source's value to the target (`>`).
    Push,
    /// Write the target's value to the source (`<`).
    Pull,
    /// A `manual` conflict: the item is held, nothing is written (`!`).
    Hold,
}

impl Action {
    /// The plan's mark: `>`, `<`, `!`, or a space.
    pub fn mark(self) -> char {
        match self {
            Action::None => ' ',
            Action::Push => '>',
            Action::Pull => '<',
            Action::Hold => '!',
        }
    }
}

/// Which side was edited last, for `conflict: newest`: `Some(Source)` when
/// the source's updated-at is the same or later (ties go to the source),
/// `Some(Target)` when the target's is later, `None` when either is
/// unknown. Instants are compared as given (seconds since 1970).
pub fn newest(source_updated: Option<i64>, target_updated: Option<i64>) -> Option<Side> {
    match (source_updated, target_updated) {
        (Some(s), Some(t)) if t > s => Some(Side::Target),
        (Some(_), Some(_)) => Some(Side::Source),
        _ => None,
    }
}

/// The inputs of [`decide`] beyond the field's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// The field's direction.
    pub direction: Direction,
    /// Its conflict policy.
    pub conflict: Conflict,
    /// For `newest`: the side edited last ([`newest`]); `None` when a date
    /// is missing, and the item is held as for `manual` (never a guess).
    pub newest: Option<Side>,
    /// A `mapsync resolve` choice recorded for this field.
    pub resolved: Option<Side>,
}

/// The action a field's state takes under its direction and policy.
///
/// * `to_target`: anything that differs from the source is pushed.
/// * `to_source`: anything that differs from the target is pulled.
/// * `both`: a change on one side goes to the other; a conflict is decided
///   by `conflict` (a recorded `resolve` choice first).
pub fn decide(state: FieldState, policy: Policy) -> Action {
    match (policy.direction, state) {
        (_, FieldState::Unchanged | FieldState::ChangedInBothSame) => Action::None,
        (Direction::ToTarget, _) => Action::Push,
        (Direction::ToSource, _) => Action::Pull,
        (Direction::Both, FieldState::ChangedInSource) => Action::Push,
        (Direction::Both, FieldState::ChangedInTarget) => Action::Pull,
        (Direction::Both, FieldState::Conflict) => {
            let side = match (policy.resolved, policy.conflict) {
                (Some(side), _) => Some(side),
                (None, Conflict::SourceWins) => Some(Side::Source),
                (None, Conflict::TargetWins) => Some(Side::Target),
                (None, Conflict::Newest) => policy.newest,
                (None, Conflict::Manual) => None,
            };
            match side {
                Some(Side::Source) => Action::Push,
                Some(Side::Target) => Action::Pull,
                None => Action::Hold,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three-way classification as data: (synced, source, target, state).
    #[test]
    fn classification_table() {
        let cases: &[(Option<&str>, &str, &str, FieldState)] = &[
            (Some("a"), "a", "a", FieldState::Unchanged),
            (Some("a"), "b", "a", FieldState::ChangedInSource),
            (Some("a"), "a", "b", FieldState::ChangedInTarget),
            (Some("a"), "b", "b", FieldState::ChangedInBothSame),
            (Some("a"), "b", "c", FieldState::Conflict),
            (None, "a", "a", FieldState::ChangedInBothSame),
            (None, "a", "b", FieldState::Conflict),
        ];
        for (synced, source, target, want) in cases {
            assert_eq!(
                classify(*synced, source, target),
                *want,
                "{synced:?} {source} {target}"
            );
        }
    }

    /// Actions as data: (direction, conflict, newest, resolved, state, action).
    #[test]
    fn action_table() {
        use Action::{Hold, Pull, Push};
        use Conflict::{Manual, Newest, SourceWins, TargetWins};
        use Direction::{Both, ToSource, ToTarget};
        use FieldState::{ChangedInBothSame, ChangedInSource, ChangedInTarget, Unchanged};
        const NONE: Action = Action::None;
        const CONFLICT: FieldState = FieldState::Conflict;
        let s = Some(Side::Source);
        let t = Some(Side::Target);
        type Case = (
            Direction,
            Conflict,
            Option<Side>,
            Option<Side>,
            FieldState,
            Action,
        );
        let cases: &[Case] = &[
            // Nothing moved, or both moved alike: nothing to write.
            (Both, SourceWins, None, None, Unchanged, NONE),
            (Both, Manual, None, None, ChangedInBothSame, NONE),
            (ToSource, SourceWins, None, None, Unchanged, NONE),
            // One side moved.
            (Both, SourceWins, None, None, ChangedInSource, Push),
            (Both, SourceWins, None, None, ChangedInTarget, Pull),
            (Both, Manual, None, None, ChangedInTarget, Pull),
            (ToSource, SourceWins, None, None, ChangedInTarget, Pull),
            // A source edit of a to_source field is undone by the target's.
            (ToSource, SourceWins, None, None, ChangedInSource, Pull),
            (ToSource, SourceWins, None, None, CONFLICT, Pull),
            (ToTarget, SourceWins, None, None, ChangedInTarget, Push),
            // Conflicts by policy.
            (Both, SourceWins, None, None, CONFLICT, Push),
            (Both, TargetWins, None, None, CONFLICT, Pull),
            (Both, Newest, s, None, CONFLICT, Push),
            (Both, Newest, t, None, CONFLICT, Pull),
            (Both, Newest, None, None, CONFLICT, Hold),
            (Both, Manual, None, None, CONFLICT, Hold),
            // A recorded `resolve` choice decides, whatever the policy.
            (Both, Manual, None, s, CONFLICT, Push),
            (Both, Manual, None, t, CONFLICT, Pull),
            (Both, SourceWins, None, t, CONFLICT, Pull),
        ];
        for (direction, conflict, newest, resolved, state, want) in cases {
            let policy = Policy {
                direction: *direction,
                conflict: *conflict,
                newest: *newest,
                resolved: *resolved,
            };
            assert_eq!(decide(*state, policy), *want, "{policy:?} {state:?}");
        }
    }

    #[test]
    fn newest_ties_go_to_the_source() {
        assert_eq!(newest(Some(10), Some(10)), Some(Side::Source));
        assert_eq!(newest(Some(10), Some(11)), Some(Side::Target));
        assert_eq!(newest(Some(12), Some(11)), Some(Side::Source));
        assert_eq!(newest(None, Some(11)), None);
        assert_eq!(newest(Some(1), None), None);
    }

    #[test]
    fn words_round_trip() {
        for d in [Direction::ToTarget, Direction::ToSource, Direction::Both] {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
        for c in [
            Conflict::SourceWins,
            Conflict::TargetWins,
            Conflict::Newest,
            Conflict::Manual,
        ] {
            assert_eq!(Conflict::parse(c.as_str()), Some(c));
        }
        for s in [Side::Source, Side::Target] {
            assert_eq!(Side::parse(s.as_str()), Some(s));
        }
    }
}
