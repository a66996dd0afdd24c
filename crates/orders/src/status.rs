//! An order's life cycle: pending → paid → shipped → delivered, and pending|paid → cancelled.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an order is in its life cycle (stored as text, guarded by a CHECK constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Paid,
        Status::Shipped,
        Status::Delivered,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
        }
    }

    /// The states an order may be in for a move to `self` to be allowed. The store turns this into
    /// `UPDATE … WHERE status = ANY(<these>)`, so the check and the write are one atomic statement.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Pending => &[],
            Status::Paid => &[Status::Pending],
            Status::Shipped => &[Status::Paid],
            Status::Delivered => &[Status::Shipped],
            Status::Cancelled => &[Status::Pending, Status::Paid],
        }
    }
}

impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| format!("unknown order status {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_only_moves_forward() {
        assert!(Status::Paid.allowed_from().contains(&Status::Pending));
        assert!(!Status::Pending.allowed_from().contains(&Status::Paid));
        assert!(!Status::Cancelled.allowed_from().contains(&Status::Shipped));
        assert!(Status::Cancelled.allowed_from().contains(&Status::Paid));
        for s in Status::ALL {
            assert_eq!(Status::try_from(s.as_str().to_owned()), Ok(s));
            assert!(
                !s.allowed_from().contains(&s),
                "{s:?} → {s:?} must not be allowed"
            );
        }
    }
}
