//! Keeping small lists sorted and free of duplicates by inserting in place. The standard sorts
//! are generic: every element type and comparator adds a copy of a merge sort (5–10 KiB each)
//! to the binary, which a 4.5 MiB budget notices. The lists here are tiny.

/// Inserts `value` where it belongs in the sorted `list`; false when it was already there.
pub fn insert(list: &mut Vec<String>, value: String) -> bool {
    match list.binary_search(&value) {
        Ok(_) => false,
        Err(at) => {
            list.insert(at, value);
            true
        }
    }
}

/// `values` sorted, each once.
pub fn unique(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut list = Vec::new();
    for v in values {
        insert(&mut list, v);
    }
    list
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_and_drops_duplicates() {
        let list = super::unique(["b", "a", "c", "a"].map(String::from));
        assert_eq!(list, ["a", "b", "c"]);
    }
}
