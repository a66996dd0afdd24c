//! Products, categories, and the validation rules for product input — no HTTP, no storage here.

use common::http::FieldError;
use serde_json::{Map, Value};

/// Longest accepted product name, in Unicode scalar values (what JSON Schema's `maxLength` counts).
pub const NAME_MAX: usize = 200;
/// Longest accepted description.
pub const DESCRIPTION_MAX: usize = 2000;
/// Highest accepted price, in currency units. Bounded so cents always fit and sums cannot overflow.
pub const PRICE_MAX: f64 = 1_000_000.0;
/// Highest accepted stock level.
pub const STOCK_MAX: u64 = 1_000_000_000;

/// The ten product categories. Unknown categories are rejected, so a typo cannot create an eleventh.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Books,
    Electronics,
    Home,
    Garden,
    Toys,
    Sports,
    Clothing,
    Beauty,
    Grocery,
    Automotive,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Books,
        Category::Electronics,
        Category::Home,
        Category::Garden,
        Category::Toys,
        Category::Sports,
        Category::Clothing,
        Category::Beauty,
        Category::Grocery,
        Category::Automotive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Books => "books",
            Category::Electronics => "electronics",
            Category::Home => "home",
            Category::Garden => "garden",
            Category::Toys => "toys",
            Category::Sports => "sports",
            Category::Clothing => "clothing",
            Category::Beauty => "beauty",
            Category::Grocery => "grocery",
            Category::Automotive => "automotive",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A product as stored. Prices are kept in cents so arithmetic and comparisons are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub price_cents: u64,
    pub stock: u64,
    pub category: Category,
    /// Bumped on every update; the ETag is derived from it.
    pub version: u64,
}

impl Product {
    /// Strong entity tag: changes whenever the product changes.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }
}

/// Validated input for creating or replacing a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price_cents: u64,
    pub stock: u64,
    pub category: Category,
}

impl NewProduct {
    /// Validates a JSON body field by field and reports *every* invalid field, not just the first —
    /// which is why this reads a `serde_json::Value` instead of deriving `Deserialize`: serde stops at
    /// the first type error.
    pub fn from_json(body: &Value) -> Result<NewProduct, Vec<FieldError>> {
        let Some(obj) = body.as_object() else {
            return Err(vec![FieldError::new("body", "must be a JSON object")]);
        };
        let mut errors: Vec<FieldError> = obj
            .keys()
            .filter(|k| {
                !matches!(
                    k.as_str(),
                    "name" | "description" | "price" | "stock" | "category"
                )
            })
            .map(|k| FieldError::new(k.as_str(), "unknown field"))
            .collect();
        let name = collect(&mut errors, "name", name(obj));
        let description = collect(&mut errors, "description", description(obj));
        let price_cents = collect(&mut errors, "price", price(obj));
        let stock = collect(&mut errors, "stock", stock(obj));
        let category = collect(&mut errors, "category", category(obj));
        match (name, description, price_cents, stock, category) {
            (Some(name), Some(description), Some(price_cents), Some(stock), Some(category))
                if errors.is_empty() =>
            {
                Ok(NewProduct {
                    name,
                    description,
                    price_cents,
                    stock,
                    category,
                })
            }
            _ => Err(errors),
        }
    }
}

fn collect<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError::new(field, message)))
        .ok()
}

fn name(obj: &Map<String, Value>) -> Result<String, String> {
    match obj.get("name") {
        None | Some(Value::Null) => Err("is required".into()),
        Some(Value::String(s)) => {
            let len = s.chars().count();
            if !(1..=NAME_MAX).contains(&len) {
                Err(format!("must be 1 to {NAME_MAX} characters (got {len})"))
            } else if s.chars().all(char::is_whitespace) {
                Err("must contain a non-whitespace character".into())
            } else {
                Ok(s.clone())
            }
        }
        Some(_) => Err("must be a string".into()),
    }
}

fn description(obj: &Map<String, Value>) -> Result<String, String> {
    match obj.get("description") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= DESCRIPTION_MAX => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("must be at most {DESCRIPTION_MAX} characters")),
        Some(_) => Err("must be a string".into()),
    }
}

fn price(obj: &Map<String, Value>) -> Result<u64, String> {
    let value = match obj.get("price") {
        None | Some(Value::Null) => return Err("is required".into()),
        Some(Value::Number(n)) => n.as_f64().ok_or("must be a number")?,
        Some(_) => return Err("must be a number".into()),
    };
    price_to_cents(value)
}

/// Converts a price to cents, rejecting negatives, huge values and sub-cent precision. JSON numbers
/// arrive as binary floats (19.99 is really 19.989999…), so "at most 2 decimals" means "within a
/// rounding error of a whole number of cents".
pub fn price_to_cents(value: f64) -> Result<u64, String> {
    if !value.is_finite() || value < 0.0 {
        return Err("must be 0 or more".into());
    }
    if value > PRICE_MAX {
        return Err(format!("must be at most {PRICE_MAX}"));
    }
    let cents = (value * 100.0).round();
    if (value * 100.0 - cents).abs() > 1e-6 {
        return Err("must have at most 2 decimals".into());
    }
    // In range 0..=1e8 by the checks above, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(cents as u64)
}

fn stock(obj: &Map<String, Value>) -> Result<u64, String> {
    match obj.get("stock") {
        None | Some(Value::Null) => Err("is required".into()),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(v), _, _) if v <= STOCK_MAX => Ok(v),
            (Some(_), _, _) => Err(format!("must be at most {STOCK_MAX}")),
            (None, Some(_), _) => Err("must be 0 or more".into()),
            // 5.0 is a whole number written as a float; accept it like JSON Schema's `integer` does.
            (None, None, Some(f)) if f.fract() == 0.0 && (0.0..=STOCK_MAX as f64).contains(&f) =>
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(f as u64)
            }
            _ => Err(format!("must be a whole number from 0 to {STOCK_MAX}")),
        },
        Some(_) => Err("must be an integer".into()),
    }
}

fn category(obj: &Map<String, Value>) -> Result<Category, String> {
    match obj.get("category") {
        None | Some(Value::Null) => Err("is required".into()),
        Some(Value::String(s)) => Category::parse(s).ok_or_else(|| {
            let known: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
            format!(
                "unknown category {s:?}; expected one of {}",
                known.join(", ")
            )
        }),
        Some(_) => Err("must be a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(body: Value) -> Vec<String> {
        NewProduct::from_json(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_valid_body_is_accepted_exactly() {
        let p = NewProduct::from_json(
            &json!({"name":"Lamp","price":19.99,"stock":3,"category":"home"}),
        )
        .unwrap();
        assert_eq!(p.price_cents, 1999);
        assert_eq!(p.description, "");
        assert_eq!(p.category, Category::Home);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let got = fields(json!({"name":"","price":1.234,"stock":-1,"category":"food","extra":1}));
        assert_eq!(got, ["extra", "name", "price", "stock", "category"]);
        assert_eq!(fields(json!([])), ["body"]);
        assert_eq!(fields(json!({})), ["name", "price", "stock", "category"]);
    }

    #[test]
    fn price_rules() {
        assert_eq!(price_to_cents(0.0), Ok(0));
        assert_eq!(price_to_cents(0.07), Ok(7));
        assert_eq!(price_to_cents(999_999.99), Ok(99_999_999));
        assert!(price_to_cents(-0.01).is_err());
        assert!(price_to_cents(0.001).is_err());
        assert!(price_to_cents(1e12).is_err());
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        let ok = "é".repeat(NAME_MAX);
        assert!(
            NewProduct::from_json(&json!({"name":ok,"price":1,"stock":1,"category":"books"}))
                .is_ok()
        );
        assert_eq!(
            fields(json!({"name":"é".repeat(NAME_MAX + 1),"price":1,"stock":1,"category":"books"})),
            ["name"]
        );
        assert_eq!(
            fields(json!({"name":"   ","price":1,"stock":1,"category":"books"})),
            ["name"]
        );
    }
}
