//! The report type shared by every check and by the compiler: one [`ValidationError`]
//! per problem, naming the resource and field, and [`ValidationErrors`] for all of them.

use std::fmt;

/// One problem of a topology file. Serialised (`vpcctl validate --json`) as
/// `{"resource": …, "field": …, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    /// The resource: its id, or `kind[index]` (e.g. `vpc[2]`) when it has none, or `file`.
    pub resource: String,
    /// The field, e.g. `cidr` or `routes[1].destination`; empty when the whole resource is meant.
    pub field: String,
    /// What is wrong, and where possible what to do instead.
    pub message: String,
}

impl ValidationError {
    /// Builds an error.
    pub fn new(
        resource: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            resource: resource.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.resource, self.message)
        } else {
            write!(f, "{}.{}: {}", self.resource, self.field, self.message)
        }
    }
}

impl std::error::Error for ValidationError {}

/// Every problem of a topology file; displayed one per line, serialised as a JSON array.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// Whether there is no error at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Iterates over the errors.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        ValidationErrors(vec![e])
    }
}
