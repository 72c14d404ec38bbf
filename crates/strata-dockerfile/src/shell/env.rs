//! Variable lookup for the shell-word expander: the [`Env`] trait and its
//! implementations for the common map and list types.

use std::collections::{BTreeMap, HashMap};

/// A read-only set of variables the expander can look names up in.
///
/// Names are case-sensitive (Unix semantics). Implemented for the usual map
/// types and for `[(String, String)]` / `Vec<(String, String)>` lists, where a
/// later entry wins over an earlier one with the same name (like `ENV` lines).
pub trait Env {
    /// The value of `name`, or `None` when the variable is unset.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<E: Env + ?Sized> Env for &E {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

impl Env for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

/// The empty environment: every variable is unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEnv;

impl Env for NoEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_list_entries_win() {
        let env = vec![
            ("A".to_string(), "1".to_string()),
            ("A".to_string(), "2".to_string()),
        ];
        assert_eq!(Env::get(&env, "A"), Some("2"));
        assert_eq!(Env::get(&env, "a"), None);
        assert_eq!(NoEnv.get("A"), None);
    }
}
