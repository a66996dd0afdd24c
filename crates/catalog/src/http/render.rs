//! Rendering products to JSON once per version: reads outnumber writes by far, so `GET /products/{id}`
//! serves bytes rendered when the product last changed instead of serialising on every request.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use bytes::Bytes;
use http::HeaderValue;
use serde::Serialize;

use super::products::ProductBody;
use crate::domain::{Category, Product};

/// A product's wire form: the JSON body and its ETag, cheap to clone (reference-counted bytes).
#[derive(Debug, Clone)]
pub struct Rendered {
    version: u64,
    pub body: Bytes,
    pub etag: HeaderValue,
}

impl Rendered {
    fn new(p: &Product) -> Self {
        let mut body = Vec::with_capacity(256);
        // Serialising plain fields into a Vec cannot fail; an empty body would be the only outcome.
        let _ = serde_json::to_writer(&mut body, &ProductView::from(p));
        // An ETag is quotes, digits and a dash: always a valid header value.
        let etag = HeaderValue::from_str(&p.etag()).unwrap_or(HeaderValue::from_static("\"0-0\""));
        Self {
            version: p.version,
            body: body.into(),
            etag,
        }
    }

    pub fn etag_str(&self) -> &str {
        self.etag.to_str().unwrap_or_default()
    }
}

/// The rendered form of every product read or written since start-up, keyed by id and checked
/// against the product's version on every read, so a stale rendering is never served.
#[derive(Debug, Default)]
pub struct Renderings {
    by_id: RwLock<HashMap<u64, Rendered>>,
}

impl Renderings {
    /// The rendering of `p`'s current version, made now if needed.
    pub fn get(&self, p: &Product) -> Rendered {
        let cached = self
            .by_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&p.id)
            .cloned();
        if let Some(r) = cached.filter(|r| r.version == p.version) {
            return r;
        }
        let r = Rendered::new(p);
        self.by_id
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(p.id, r.clone());
        r
    }

    /// Drops a deleted product's rendering (ids are never reused, so this only frees memory).
    pub fn forget(&self, id: u64) {
        self.by_id
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }
}

impl From<&Product> for ProductBody {
    fn from(p: &Product) -> Self {
        let ProductView {
            id,
            name,
            description,
            price,
            stock,
            category,
        } = ProductView::from(p);
        let (name, description) = (name.to_owned(), description.to_owned());
        Self {
            id,
            name,
            description,
            price,
            stock,
            category,
        }
    }
}

/// The same JSON as [`ProductBody`], serialised straight from a stored product without copying its
/// strings: `GET /products/{id}` is the hottest path, and this keeps it allocation-light.
#[derive(Serialize)]
struct ProductView<'a> {
    id: u64,
    name: &'a str,
    description: &'a str,
    price: f64,
    stock: u64,
    category: Category,
}

impl<'a> From<&'a Product> for ProductView<'a> {
    fn from(p: &'a Product) -> Self {
        // Cents → units is exact to 2 decimals for every price we accept (≤ 1e8 cents).
        #[allow(clippy::cast_precision_loss)]
        let price = p.price_cents as f64 / 100.0;
        let (name, description) = (p.name.as_str(), p.description.as_str());
        Self {
            id: p.id,
            name,
            description,
            price,
            stock: p.stock,
            category: p.category,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewProduct;
    use crate::store::Store;

    #[test]
    fn renderings_follow_the_version_and_match_the_documented_body() {
        let store = Store::seeded(3, 1);
        let renderings = Renderings::default();
        let before = renderings.get(&store.get(2).unwrap());
        let body: ProductBody = serde_json::from_slice(&before.body).unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::to_value(ProductBody::from(&*store.get(2).unwrap())).unwrap()
        );

        let new = NewProduct {
            name: "Renamed".into(),
            description: String::new(),
            price_cents: 1,
            stock: 1,
            category: Category::Toys,
        };
        let updated = store.replace(2, new, |_| true).unwrap();
        let after = renderings.get(&updated);
        assert_ne!(after.etag, before.etag);
        assert!(
            String::from_utf8_lossy(&after.body).contains("Renamed"),
            "a new version is rendered anew"
        );
    }
}
