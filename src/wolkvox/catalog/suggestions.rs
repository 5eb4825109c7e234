//! Suggestions for a mistyped report name, and the edit distance they (and the catalogue's
//! alias rule) measure names by.

use super::all;

/// The `n` report names closest to `api` (a mistyped `--report`), closest first.
pub fn closest(api: &str, n: usize) -> Vec<&'static str> {
    let mut names: Vec<(usize, &'static str)> = all().iter().map(|r| (levenshtein(api, r.api), r.api)).collect();
    names.sort();
    names.into_iter().take(n).map(|(_, name)| name).collect()
}

/// The edit distance between two short names.
pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_report_name_finds_its_closest_names() {
        assert_eq!(closest("chat14", 3), ["chat_14", "chat_4", "chat_1"]);
        assert_eq!(closest("agnet_1", 1), ["agent_1"]);
    }
}
