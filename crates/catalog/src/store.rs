//! The in-memory product store: a `BTreeMap` behind a lock, seeded deterministically at start-up.
//!
//! A lock (not a lock-free map) because every operation is a short, synchronous critical section with
//! no `.await` inside, and because `replace` must check the ETag and write in one atomic step.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use crate::domain::{Category, NewProduct, Product};

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("product {0} not found")]
    NotFound(u64),
    #[error("precondition failed: current ETag is {current}")]
    PreconditionFailed { current: String },
}

/// Search filters; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Lower-cased text that must occur in the name or the description.
    pub text: Option<String>,
    pub category: Option<Category>,
    pub min_cents: Option<u64>,
    pub max_cents: Option<u64>,
}

/// One page of results plus the total number of matches.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Product>,
    pub total: u64,
}

#[derive(Debug, Default)]
pub struct Store {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, Entry>,
    next_id: u64,
}

#[derive(Debug)]
struct Entry {
    product: Product,
    /// Lower-cased name and description, computed once per write instead of once per search.
    haystack: String,
}

impl Entry {
    fn new(product: Product) -> Self {
        let haystack = format!("{}\n{}", product.name, product.description).to_lowercase();
        Self { product, haystack }
    }

    fn matches(&self, f: &Filter) -> bool {
        let p = &self.product;
        f.category.is_none_or(|c| c == p.category)
            && f.min_cents.is_none_or(|min| p.price_cents >= min)
            && f.max_cents.is_none_or(|max| p.price_cents <= max)
            && f.text.as_deref().is_none_or(|t| self.haystack.contains(t))
    }
}

impl Store {
    /// `n` products with ids `1..=n`, the same for the same `seed` on every machine.
    pub fn seeded(n: u64, seed: u64) -> Self {
        let mut rng = SplitMix64(seed);
        let entries = (1..=n)
            .map(|id| (id, Entry::new(seed::product(id, &mut rng))))
            .collect();
        Self {
            inner: RwLock::new(Inner {
                entries,
                next_id: n + 1,
            }),
        }
    }

    pub fn get(&self, id: u64) -> Option<Product> {
        self.read().entries.get(&id).map(|e| e.product.clone())
    }

    /// Products in id order, skipping `offset`, at most `limit`.
    pub fn list(&self, offset: u64, limit: u64) -> Page {
        self.search(&Filter::default(), offset, limit)
    }

    /// Products matching `filter`, in id order, skipping `offset`, at most `limit`.
    pub fn search(&self, filter: &Filter, offset: u64, limit: u64) -> Page {
        let inner = self.read();
        let mut total = 0u64;
        let mut items = Vec::new();
        for entry in inner.entries.values().filter(|e| e.matches(filter)) {
            if total >= offset && (items.len() as u64) < limit {
                items.push(entry.product.clone());
            }
            total += 1;
        }
        Page { items, total }
    }

    pub fn create(&self, new: NewProduct) -> Product {
        let mut inner = self.write();
        let id = inner.next_id;
        inner.next_id += 1;
        let product = with_fields(id, 1, new);
        inner.entries.insert(id, Entry::new(product.clone()));
        product
    }

    /// Replaces product `id` if `precondition` accepts its current state (used for `If-Match`); the
    /// check and the write happen under one lock, so two clients holding the same ETag cannot both win.
    pub fn replace(
        &self,
        id: u64,
        new: NewProduct,
        precondition: impl FnOnce(&Product) -> bool,
    ) -> Result<Product, StoreError> {
        let mut inner = self.write();
        let entry = inner.entries.get_mut(&id).ok_or(StoreError::NotFound(id))?;
        if !precondition(&entry.product) {
            return Err(StoreError::PreconditionFailed {
                current: entry.product.etag(),
            });
        }
        let product = with_fields(id, entry.product.version + 1, new);
        *entry = Entry::new(product.clone());
        Ok(product)
    }

    /// Deletes product `id` if `precondition` accepts its current state.
    pub fn delete(
        &self,
        id: u64,
        precondition: impl FnOnce(&Product) -> bool,
    ) -> Result<(), StoreError> {
        let mut inner = self.write();
        let entry = inner.entries.get(&id).ok_or(StoreError::NotFound(id))?;
        if !precondition(&entry.product) {
            return Err(StoreError::PreconditionFailed {
                current: entry.product.etag(),
            });
        }
        inner.entries.remove(&id);
        Ok(())
    }

    // A panic while holding the lock cannot leave a product half-written (entries are replaced whole),
    // so a poisoned lock is safe to keep using; refusing would turn one bug into a permanent outage.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn with_fields(id: u64, version: u64, new: NewProduct) -> Product {
    let NewProduct {
        name,
        description,
        price_cents,
        stock,
        category,
    } = new;
    Product {
        id,
        name,
        description,
        price_cents,
        stock,
        category,
        version,
    }
}

/// SplitMix64: a tiny, well-known generator. Hand-written so the seeded catalog never changes when a
/// dependency's algorithm does — screenshots, tests and load scenarios rely on product 42 staying put.
pub(crate) struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough value in `0..n` (n is tiny here, so modulo bias is irrelevant).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

mod seed {
    //! Generated product data: plausible names per category from small word lists.
    use super::SplitMix64;
    use crate::domain::{Category, Product};

    const ADJECTIVES: [&str; 12] = [
        "Classic",
        "Compact",
        "Deluxe",
        "Durable",
        "Elegant",
        "Ergonomic",
        "Lightweight",
        "Modern",
        "Rustic",
        "Smart",
        "Sturdy",
        "Vintage",
    ];

    fn nouns(c: Category) -> [&'static str; 4] {
        match c {
            Category::Books => ["Novel", "Cookbook", "Atlas", "Field Guide"],
            Category::Electronics => ["Headphones", "Charger", "Speaker", "Keyboard"],
            Category::Home => ["Lamp", "Bookshelf", "Rug", "Kettle"],
            Category::Garden => ["Trowel", "Planter", "Hose", "Bird Feeder"],
            Category::Toys => ["Puzzle", "Kite", "Robot", "Building Set"],
            Category::Sports => ["Yoga Mat", "Football", "Racket", "Water Bottle"],
            Category::Clothing => ["Jacket", "Scarf", "Sneakers", "Raincoat"],
            Category::Beauty => ["Face Cream", "Hair Brush", "Perfume", "Soap Set"],
            Category::Grocery => ["Coffee Beans", "Olive Oil", "Green Tea", "Honey"],
            Category::Automotive => ["Floor Mats", "Jump Starter", "Tyre Gauge", "Wax Kit"],
        }
    }

    pub(super) fn product(id: u64, rng: &mut SplitMix64) -> Product {
        let category = Category::ALL[(id % 10) as usize];
        let adjective = ADJECTIVES[rng.below(ADJECTIVES.len() as u64) as usize];
        let noun = nouns(category)[rng.below(4) as usize];
        Product {
            id,
            name: format!("{adjective} {noun}"),
            description: format!(
                "A {} {} from the {} range, item #{id}.",
                adjective.to_lowercase(),
                noun.to_lowercase(),
                category.as_str()
            ),
            price_cents: 99 + rng.below(99_901),
            stock: rng.below(501),
            category,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewProduct {
        NewProduct {
            name: name.into(),
            description: String::new(),
            price_cents: 100,
            stock: 1,
            category: Category::Books,
        }
    }

    #[test]
    fn seeding_is_deterministic_and_spans_all_categories() {
        let (a, b) = (Store::seeded(100, 7), Store::seeded(100, 7));
        assert_eq!(a.get(42), b.get(42));
        assert_ne!(a.get(42), Store::seeded(100, 8).get(42));
        for c in Category::ALL {
            let f = Filter {
                category: Some(c),
                ..Filter::default()
            };
            assert_eq!(a.search(&f, 0, 100).total, 10);
        }
    }

    #[test]
    fn paging_counts_all_matches_and_returns_one_page() {
        let s = Store::seeded(25, 1);
        let p = s.list(20, 10);
        assert_eq!(p.total, 25);
        assert_eq!(
            p.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            [21, 22, 23, 24, 25]
        );
        assert!(s.list(100, 10).items.is_empty());
    }

    #[test]
    fn replace_checks_the_precondition_atomically_and_bumps_the_version() {
        let s = Store::seeded(1, 1);
        let etag = s.get(1).unwrap().etag();
        let updated = s.replace(1, new("A"), |p| p.etag() == etag).unwrap();
        assert_eq!(updated.version, 2);
        let err = s.replace(1, new("B"), |p| p.etag() == etag).unwrap_err();
        assert_eq!(
            err,
            StoreError::PreconditionFailed {
                current: updated.etag()
            }
        );
        assert_eq!(s.get(1).unwrap().name, "A");
        assert_eq!(
            s.replace(9, new("C"), |_| true),
            Err(StoreError::NotFound(9))
        );
    }

    #[test]
    fn ids_are_never_reused_after_delete() {
        let s = Store::seeded(2, 1);
        s.delete(2, |_| true).unwrap();
        assert_eq!(s.create(new("x")).id, 3);
        assert_eq!(s.delete(2, |_| true), Err(StoreError::NotFound(2)));
    }
}
