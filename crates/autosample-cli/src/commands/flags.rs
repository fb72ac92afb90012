//! Flags a command would not read are refused, not ignored: a user who gives `--lr` beside
//! `--resume`, or `--max-rounds` to a halving search, would otherwise believe the run used it.
//! Each message names the flags and the fix.

use std::path::Path;

use anyhow::{Result, bail};

/// Refuses every flag of `given` but those in `allowed` beside `--resume DIR`, which reads its
/// settings and data from `recorded` in `dir`.
///
/// # Errors
/// The flags `--resume` would not read, and the fix.
pub fn refuse_beside_resume(
    given: &[String],
    allowed: &[&str],
    dir: &Path,
    recorded: &str,
) -> Result<()> {
    let unread: Vec<&str> = given
        .iter()
        .map(String::as_str)
        .filter(|f| !allowed.contains(f))
        .collect();
    if unread.is_empty() {
        return Ok(());
    }
    bail!(
        "--resume {} continues with the settings and data recorded in its {recorded}, so it \
         would not read {}: drop {} (other settings need a new run with its own --out)",
        dir.display(),
        unread.join(", "),
        if unread.len() == 1 { "it" } else { "them" }
    )
}

/// Refuses the flags of `flags` that `given` holds: they `apply` only elsewhere ("to
/// --strategy autosample"), which `here` is not ("this search is exhaustive").
///
/// # Errors
/// The flags, where they apply, and the fix.
pub fn refuse_unread(given: &[String], flags: &[&str], apply: &str, here: &str) -> Result<()> {
    let unread: Vec<&str> = given
        .iter()
        .map(String::as_str)
        .filter(|f| flags.contains(f))
        .collect();
    if unread.is_empty() {
        return Ok(());
    }
    bail!(
        "{} {} only {apply}, and {here}: drop {} or change the search",
        unread.join(", "),
        if unread.len() == 1 {
            "applies"
        } else {
            "apply"
        },
        if unread.len() == 1 { "it" } else { "them" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(flags: &[&str]) -> Vec<String> {
        flags.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn resume_refuses_what_it_would_not_read_and_names_it() {
        let dir = Path::new("runs/x");
        assert!(
            refuse_beside_resume(
                &given(&["--resume", "--json"]),
                &["--resume", "--json"],
                dir,
                "search.json"
            )
            .is_ok()
        );
        let e = refuse_beside_resume(
            &given(&["--resume", "--lr", "--epochs"]),
            &["--resume", "--json"],
            dir,
            "search.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--lr, --epochs"), "{e}");
        assert!(e.contains("runs/x") && e.contains("search.json"), "{e}");
    }

    #[test]
    fn a_flag_of_another_strategy_is_named_with_where_it_applies() {
        let e = refuse_unread(
            &given(&["--model", "--max-rounds"]),
            &["--max-rounds", "--selector"],
            "to --strategy autosample",
            "this search is exhaustive",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "--max-rounds applies only to --strategy autosample, and this search is \
             exhaustive: drop it or change the search"
        );
        assert!(refuse_unread(&given(&["--model"]), &["--max-rounds"], "a", "b").is_ok());
    }
}
