//! The products of the store: a persistent map by id, shared structurally
//! between snapshots (a change copies O(log n) of it, not the catalog), and
//! the derived index of their parts — variants, inventory items and media —
//! by id, so a global id resolves without a scan. Plain data; must not know
//! about GraphQL or HTTP.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Product;

/// Products by id, with the index of their parts.
///
/// Reads go through [`Deref`] to the map. Writes go through [`insert`],
/// [`remove`], [`clear`] (which keep the index) and [`get_mut`], which
/// marks the product touched: a part it gains is found by a scan of the
/// touched products until [`settle`] indexes them (the store's writer calls
/// it before it publishes a snapshot).
///
/// [`insert`]: Products::insert
/// [`remove`]: Products::remove
/// [`clear`]: Products::clear
/// [`get_mut`]: Products::get_mut
/// [`settle`]: Products::settle
#[derive(Debug, Clone, Default)]
pub struct Products {
    map: OrdMap<u64, Arc<Product>>,
    /// Id of a variant, an inventory item or a media item → its product.
    /// An entry may be stale (the part is gone): lookups check the product
    /// still has it.
    parts: OrdMap<u64, u64>,
    /// Products handed out by [`Products::get_mut`] since the last
    /// [`Products::settle`], with their part ids as indexed then.
    touched: BTreeMap<u64, Vec<u64>>,
}

/// The ids of a product's variants, inventory items and media.
fn part_ids(p: &Product) -> impl Iterator<Item = u64> + '_ {
    p.variants
        .iter()
        .flat_map(|v| [v.id, v.inventory_item.id])
        .chain(p.media.iter().map(|m| m.id))
}

impl Products {
    /// The product with a part (variant, inventory item or media) of this id.
    pub fn owner_of_part(&self, part: u64) -> Option<u64> {
        let has = |pid: u64| {
            self.map
                .get(&pid)
                .is_some_and(|p| part_ids(p).any(|x| x == part))
        };
        if let Some(&pid) = self.parts.get(&part) {
            if has(pid) {
                return Some(pid);
            }
        }
        self.touched.keys().copied().find(|&pid| has(pid))
    }

    /// Add or replace a product; gives the one it replaced.
    pub fn insert(&mut self, id: u64, product: Arc<Product>) -> Option<Arc<Product>> {
        if let Some(old) = self.map.get(&id).cloned() {
            self.unindex(id, part_ids(&old));
        }
        for part in part_ids(&product) {
            self.parts.insert(part, id);
        }
        self.map.insert(id, product)
    }

    /// Remove a product; gives it.
    pub fn remove(&mut self, id: &u64) -> Option<Arc<Product>> {
        let old = self.map.remove(id)?;
        self.unindex(*id, part_ids(&old));
        self.touched.remove(id);
        Some(old)
    }

    /// A product to change in place (`Arc::make_mut`); marks it touched.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut Arc<Product>> {
        if !self.touched.contains_key(id) {
            let parts = part_ids(self.map.get(id)?).collect();
            self.touched.insert(*id, parts);
        }
        self.map.get_mut(id)
    }

    /// Remove every product.
    pub fn clear(&mut self) {
        self.map.clear();
        self.parts.clear();
        self.touched.clear();
    }

    /// Index the parts of the products changed through [`Products::get_mut`].
    pub fn settle(&mut self) {
        for (id, before) in std::mem::take(&mut self.touched) {
            let now: Vec<u64> = self
                .map
                .get(&id)
                .map(|p| part_ids(p).collect())
                .unwrap_or_default();
            self.unindex(id, before.into_iter().filter(|x| !now.contains(x)));
            for part in now {
                self.parts.insert(part, id);
            }
        }
    }

    /// Drop index entries of `parts` that still name product `id`.
    fn unindex(&mut self, id: u64, parts: impl Iterator<Item = u64>) {
        for part in parts {
            if self.parts.get(&part) == Some(&id) {
                self.parts.remove(&part);
            }
        }
    }
}

impl Deref for Products {
    type Target = OrdMap<u64, Arc<Product>>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl FromIterator<(u64, Arc<Product>)> for Products {
    fn from_iter<I: IntoIterator<Item = (u64, Arc<Product>)>>(iter: I) -> Self {
        let mut out = Products::default();
        for (id, p) in iter {
            out.insert(id, p);
        }
        out
    }
}

impl<'a> IntoIterator for &'a Products {
    type Item = (&'a u64, &'a Arc<Product>);
    type IntoIter = imbl::ordmap::Iter<'a, u64, Arc<Product>, imbl::shared_ptr::DefaultSharedPtr>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

/// The same JSON as a map of id → product (the state file's format).
impl Serialize for Products {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.map.iter().map(|(k, v)| (k, &**v)))
    }
}

impl<'de> Deserialize<'de> for Products {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m: BTreeMap<u64, Product> = BTreeMap::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}
