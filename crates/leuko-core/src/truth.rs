//! Three-valued logic: unknown is not absent.

/// Whether a finding holds. `Unknown` never counts as `False`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truth {
    /// Known to hold.
    True,
    /// Known not to hold.
    False,
    /// Not known.
    Unknown,
}

impl Truth {
    /// From a boolean.
    pub fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    /// Whether it is known to hold.
    pub fn is_true(self) -> bool {
        self == Truth::True
    }

    /// Kleene conjunction.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::True, Truth::True) => Truth::True,
            _ => Truth::Unknown,
        }
    }

    /// Kleene disjunction.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::False, Truth::False) => Truth::False,
            _ => Truth::Unknown,
        }
    }

    /// Kleene negation.
    #[allow(
        clippy::should_implement_trait,
        reason = "reads better than `!` in clinical logic"
    )]
    pub fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    /// The words used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Truth::True => "present",
            Truth::False => "absent",
            Truth::Unknown => "unknown",
        }
    }
}
