//! `mqward check`: validate and lint a policy.

use mqward_core::policy::lint::lint;

use crate::args::CheckArgs;
use crate::error::Error;
use crate::files::load_policy;
use crate::report;

/// Validates the file, prints a summary and the lint warnings.
pub fn run(args: &CheckArgs) -> Result<u8, Error> {
    let (doc, snapshot) = load_policy(&args.file)?;
    report::out(&format!(
        "ok: {} in {}, {}\n",
        count(snapshot.statement_count(), "statement", "statements"),
        count(doc.policies.len(), "policy", "policies"),
        count(doc.groups.len(), "group", "groups"),
    ))?;
    report::warnings(&lint(&doc));
    Ok(crate::EXIT_OK)
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(count(1, "policy", "policies"), "1 policy");
        assert_eq!(count(0, "policy", "policies"), "0 policies");
    }
}
