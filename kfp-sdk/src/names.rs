//! Turning Rust names into Kubernetes-friendly ones.

/// `train_cnn` → `train-cnn`: lowercase, `_` and other characters Kubernetes rejects become
/// `-`, runs of `-` collapse, and no `-` at either end.
///
/// ```
/// assert_eq!(kfp_sdk::names::kebab("Train_CNN__v2"), "train-cnn-v2");
/// ```
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

/// A name not yet in `taken`: `base`, else `base-2`, `base-3`, ... (and records it).
pub(crate) fn unique(base: &str, taken: &mut std::collections::HashSet<String>) -> String {
    if taken.insert(base.to_owned()) {
        return base.to_owned();
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|candidate| taken.insert(candidate.clone()))
        .unwrap_or_default()
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
    fn unique_names_get_suffixes() {
        let mut taken = Default::default();
        assert_eq!(unique("add", &mut taken), "add");
        assert_eq!(unique("add", &mut taken), "add-2");
        assert_eq!(unique("add", &mut taken), "add-3");
    }
}
