//! The errors of jq path expressions, phrased so a message can be shown to the user as is and
//! never holds a value of the object an expression ran on.

use std::time::Duration;

use super::MAX_EXPR_LEN;

/// Errors of jq path expressions. Each names the expression, so a message can
/// be shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum JqError {
    /// The expression is not valid jq syntax.
    #[error("jq expression `{expr}` does not parse: {message}")]
    Parse {
        /// The expression.
        expr: String,
        /// What is wrong, and where.
        message: String,
    },
    /// The expression uses something outside the allowed subset.
    #[error("jq expression `{expr}`: {construct}")]
    NotAllowed {
        /// The expression.
        expr: String,
        /// The rejected construct, phrased as a sentence.
        construct: String,
    },
    /// The expression parses but does not compile, e.g. it calls an undefined
    /// function or uses an unbound variable.
    #[error("jq expression `{expr}` does not compile: {message}")]
    Compile {
        /// The expression.
        expr: String,
        /// What is undefined.
        message: String,
    },
    /// Evaluating the expression on an object failed. The error says why in general terms
    /// only: never with a value from the object (a rule can make an error out of any value,
    /// a Secret's included, e.g. `error(.data.password)`).
    #[error("jq expression `{expr}` failed: {reason}")]
    Eval {
        /// The expression.
        expr: String,
        /// Why, without any value of the object.
        reason: EvalFailure,
    },
    /// Evaluating the expression took longer than its budget.
    #[error("jq expression `{expr}` did not finish within its time budget of {budget:?}")]
    Timeout {
        /// The expression.
        expr: String,
        /// The budget that was exceeded.
        budget: Duration,
    },
    /// The expression is longer than the 4096 bytes we accept.
    #[error("jq expression `{expr}` is {len} bytes long; at most {MAX_EXPR_LEN} are allowed")]
    TooLong {
        /// The start of the expression (the first 80 characters, then `…`).
        expr: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// Why evaluating an expression on an object failed, in words that hold no value of the
/// object: runtime errors of jq embed whatever value they were raised with or choked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalFailure {
    /// `error`, `error(msg)`, or a type error (indexing a string, iterating a number, ...).
    Raised,
    /// The expression computes values instead of selecting parts of the object.
    NotAPath,
    /// A path element is neither a key nor a whole-number index or slice.
    BadPathElement,
    /// A value the expression builds outgrew the limit set for this object.
    TooLarge,
    /// The object nests deeper than the evaluator accepts.
    TooDeep,
    /// The jq evaluator failed on its own (a panic or unexpected control flow).
    Internal,
}

impl std::fmt::Display for EvalFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EvalFailure::Raised => {
                "the expression raised an error (`error`, or a type error such as indexing a string)"
            }
            EvalFailure::NotAPath => {
                "a path expression must yield paths, this one yields values (it computes a new value \
                 instead of selecting one from the object)"
            }
            EvalFailure::BadPathElement => "a path element is neither a key nor a whole-number index",
            EvalFailure::TooLarge => "the expression builds a value larger than the limit for this object",
            EvalFailure::TooDeep => "the object nests more than 256 levels deep",
            EvalFailure::Internal => "internal error in the jq evaluator",
        })
    }
}
