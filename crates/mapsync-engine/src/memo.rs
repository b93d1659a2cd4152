//! The last plan of a profile with nothing to do, kept by a caller that
//! runs the profile again and again (the sync manager), and reused while
//! nothing it was made from changed.
//!
//! A plan is a value of its inputs: the records, the mapping set, the
//! ledger, the target's reduced catalog and the run's instant. When the
//! source says its records are as they were ([`Source::fingerprint`]), the
//! target says its catalog is as it was ([`Target::change_token`], a small
//! request or a few instead of the catalog's pages), the ledger holds the same rows
//! and the mapping set is the same value, the plan is the one made last
//! time — if the instant does not matter: a set with `data_max_age` or
//! images whose rights expire is planned in full every time. Only a plan
//! that changes nothing is kept: a run that writes changes the ledger, and
//! the next run plans in full — without asking the target for its change
//! token, which is asked only after a plan that changed nothing.
//!
//! [`Source::fingerprint`]: mapsync_core::source::Source::fingerprint
//! [`Target::change_token`]: mapsync_core::target::Target::change_token

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use mapsync_config::check::model::{EntityMapping, MappingSet};
use mapsync_core::Entity;
use mapsync_plan::reconcile::{Action, Plan};

/// A profile's kept plan; one per profile, made new when its configuration
/// is reloaded. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct PlanMemo {
    inner: Arc<Mutex<Memo>>,
}

#[derive(Debug, Default)]
struct Memo {
    /// Whether the last plan changed nothing: only then is the next run's
    /// key worth its request (a profile whose runs keep writing would pay
    /// the target's change token every run for nothing).
    quiet: bool,
    kept: Option<Kept>,
}

/// Equal when both are the same memo (options compare by it).
impl PartialEq for PlanMemo {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for PlanMemo {}

#[derive(Debug)]
struct Kept {
    key: u64,
    plan: Plan,
}

impl PlanMemo {
    /// The kept plan, when it was made from inputs with this key.
    pub(crate) fn get(&self, key: u64) -> Option<Plan> {
        lock(&self.inner)
            .kept
            .as_ref()
            .filter(|k| k.key == key)
            .map(|k| k.plan.clone())
    }

    /// Whether the next plan's key is worth computing: the last plan
    /// changed nothing.
    pub(crate) fn wants_key(&self) -> bool {
        lock(&self.inner).quiet
    }

    /// Keeps `plan`, made from inputs with `key`, if it changes nothing;
    /// otherwise forgets what was kept.
    pub(crate) fn keep(&self, key: Option<u64>, plan: &Plan) {
        let quiet = changes_nothing(plan);
        let kept = key.filter(|_| quiet).map(|key| Kept {
            key,
            plan: plan.clone(),
        });
        *lock(&self.inner) = Memo { quiet, kept };
    }
}

/// No create, update, delete or deactivation, and no `max_deletes` stop.
fn changes_nothing(plan: &Plan) -> bool {
    plan.mass_delete.is_empty()
        && plan.changes.iter().all(|c| {
            !matches!(
                c.action,
                Action::Create | Action::Update | Action::Delete | Action::Deactivate
            )
        })
}

/// Whether a plan of `set` depends on the run's instant: `data_max_age`
/// (an item's last sync ages), images whose usage rights expire.
pub(crate) fn depends_on_time(set: &MappingSet) -> bool {
    let expiring = |e: &Option<EntityMapping>| {
        e.as_ref().is_some_and(|e| {
            e.images
                .iter()
                .chain(e.variants.iter().flat_map(|v| v.images.iter()))
                .any(|i| i.rights.expires.is_some())
        })
    };
    set.settings.data_max_age.is_some() || expiring(&set.category) || expiring(&set.product)
}

/// What a plan was made from, as one number: the mapping set (by
/// identity: the manager hands the same `Arc` until a reload), the
/// channel, the source's fingerprints, every ledger row and the target's
/// change token.
pub(crate) fn key(
    set: &Arc<MappingSet>,
    channel: &str,
    fingerprints: &[(Entity, String)],
    ledgers: &[(Entity, mapsync_state::Ledger)],
    token: &str,
) -> u64 {
    // SipHash with fixed keys: the same inputs give the same number.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    (Arc::as_ptr(set) as usize).hash(&mut h);
    channel.hash(&mut h);
    for (entity, f) in fingerprints {
        entity.as_str().hash(&mut h);
        f.hash(&mut h);
    }
    for (entity, ledger) in ledgers {
        entity.as_str().hash(&mut h);
        ledger.len().hash(&mut h);
        // The ledger is a map: its rows are summed, in no order.
        let mut rows = 0u64;
        for (k, row) in ledger {
            #[allow(deprecated)]
            let mut r = std::hash::SipHasher::new();
            k.hash(&mut r);
            row.target_id.hash(&mut r);
            row.hash.hash(&mut r);
            row.sync_date.map(|d| d.unix_timestamp_nanos()).hash(&mut r);
            row.message.hash(&mut r);
            row.attempts.hash(&mut r);
            rows = rows.wrapping_add(r.finish());
        }
        rows.hash(&mut h);
    }
    token.hash(&mut h);
    h.finish()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Replaced whole under the lock: a panic cannot leave it half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_plan::reconcile::Change;

    fn plan(actions: &[Action]) -> Plan {
        serde_json::from_value(serde_json::json!({
            "format_version": 1, "profile": "p", "created_at": "2026-12-02T00:00:00Z",
            "target_serial": "s", "summary": {"create": 0, "update": 0, "delete": 0,
            "deactivate": 0, "skip": 0, "unchanged": 0, "invalid": 0},
            "changes": actions.iter().map(|a| Change {
                entity: Entity::Product, key: Some("K".into()), target_id: None, action: *a,
                rule: "r".into(), reason: "r".into(), diff: vec![], diagnostics: vec![],
                drift: vec![],
                two_way: vec![],
            }).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn only_a_plan_that_changes_nothing_is_kept_and_only_then_a_key_is_wanted() {
        let memo = PlanMemo::default();
        assert!(
            !memo.wants_key(),
            "nothing known yet: plan in full, no request"
        );
        // A quiet plan without a key: the next run computes one.
        memo.keep(None, &plan(&[Action::Unchanged]));
        assert!(memo.wants_key());
        assert_eq!(memo.get(7), None);
        // Kept under its key, for that key only.
        let quiet = plan(&[Action::Unchanged, Action::Skip, Action::Invalid]);
        memo.keep(Some(7), &quiet);
        assert_eq!(memo.get(7), Some(quiet));
        assert_eq!(memo.get(8), None);
        // A plan that writes is not kept, and the next run asks nothing.
        memo.keep(Some(7), &plan(&[Action::Update]));
        assert_eq!(memo.get(7), None);
        assert!(!memo.wants_key());
        // Clones share the memo; another memo is another.
        assert_eq!(memo.clone(), memo);
        assert_ne!(PlanMemo::default(), memo);
    }
}
