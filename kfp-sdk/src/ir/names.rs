//! Names: turning Rust names into Kubernetes-friendly ones, checking DNS labels, and handing
//! out unique names.

/// `train_cnn` → `train-cnn`: lowercase, `_` and other characters Kubernetes rejects become
/// `-`, runs of `-` collapse, and no `-` at either end.
///
/// ```
/// assert_eq!(kfp_sdk::names::kebab("Train_CNN__v2"), "train-cnn-v2");
/// ```
///
/// `kfp-macros` keeps a copy (a proc-macro crate cannot depend on this one) to name
/// pipelines at compile time; `kfp-sdk/tests/names.rs` checks that the two agree.
pub fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Whether `name` is a DNS-1123 label: lowercase letters, digits and `-`, starting and ending
/// with a letter or digit (the length is the caller's to check: 63 for a label).
pub(crate) fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Hands out names not given before: `base`, else `base-2`, `base-3`, ...
///
/// Remembers the next suffix of each base, so that n tasks of one component get their names
/// in O(n) overall.
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    taken: std::collections::HashSet<String>,
    next_suffix: std::collections::HashMap<String, usize>,
}

impl UniqueNames {
    /// Marks `name` as used (returns false if it already was).
    pub(crate) fn take(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_owned())
    }

    /// A fresh name derived from `base`, marked as used.
    pub(crate) fn unique(&mut self, base: &str) -> String {
        if self.take(base) {
            return base.to_owned();
        }
        let suffix = self.next_suffix.entry(base.to_owned()).or_insert(2);
        loop {
            let candidate = format!("{base}-{suffix}");
            *suffix += 1;
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_is_a_dns_label() {
        assert_eq!(kebab("add_numbers"), "add-numbers");
        assert_eq!(kebab("__x__"), "x");
        assert_eq!(kebab("a.b/c"), "a-b-c");
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("a-1"));
        assert!(is_dns_label("1a"));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b"] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        // What kebab makes of a non-empty name is a DNS label.
        assert!(is_dns_label(&kebab("__Train CNN v2__")));
    }

    #[test]
    fn unique_names_get_suffixes() {
        let mut names = UniqueNames::default();
        assert!(names.take("add-3"));
        assert_eq!(names.unique("add"), "add");
        assert_eq!(names.unique("add"), "add-2");
        assert_eq!(names.unique("add"), "add-4");
        assert!(!names.take("add"));
    }
}
