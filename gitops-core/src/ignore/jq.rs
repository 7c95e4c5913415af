//! Placeholder.
use std::time::Duration;
/// Path token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathToken {
    /// key
    Key(String),
    /// index
    Index(usize),
}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("jq")]
pub struct JqError;
/// Expr.
#[derive(Debug)]
pub struct JqPathExpr(String);
impl JqPathExpr {
    /// compile
    pub fn compile(e: &str) -> Result<Self, JqError> {
        Ok(JqPathExpr(e.to_string()))
    }
    /// source
    pub fn source(&self) -> &str {
        &self.0
    }
    /// paths
    pub fn paths(&self, _v: &serde_json::Value, _b: Duration) -> Result<Vec<Vec<PathToken>>, JqError> {
        Ok(vec![])
    }
}
