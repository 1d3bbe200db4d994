//! Reading back the Markdown tables the commands write (`decisions`, `bench`): a committed
//! table must still have the command's header and a cell per column in every row, or the
//! test that reads it fails.

/// Every table in `md` whose header line is `header`, each as its rows' cells. An error
/// names what is wrong: no such table, a missing `|---|` line, a row with the wrong number
/// of cells, or a table without rows.
pub fn tables(md: &str, header: &str) -> Result<Vec<Vec<Vec<String>>>, String> {
    let columns = cells(header).len();
    let lines: Vec<&str> = md.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != header.trim() {
            i += 1;
            continue;
        }
        match lines.get(i + 1) {
            Some(l) if cells(l).iter().all(|c| c.starts_with("---")) => {}
            other => {
                return Err(format!(
                    "line {}: no |---| line under the header: {other:?}",
                    i + 2
                ))
            }
        }
        i += 2;
        let mut rows = Vec::new();
        while i < lines.len() && lines[i].trim().starts_with('|') {
            let c = cells(lines[i]);
            if c.len() != columns {
                return Err(format!(
                    "line {}: {} cells, the table has {columns}: {}",
                    i + 1,
                    c.len(),
                    lines[i]
                ));
            }
            rows.push(c);
            i += 1;
        }
        if rows.is_empty() {
            return Err(format!("line {i}: a table without rows"));
        }
        found.push(rows);
    }
    if found.is_empty() {
        return Err(format!("no table has the header\n{header}"));
    }
    Ok(found)
}

/// The cells of a Markdown table line, trimmed.
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let inner = line
        .strip_prefix('|')
        .and_then(|l| l.strip_suffix('|'))
        .unwrap_or(line);
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "| a | b |";

    #[test]
    fn reads_every_table_with_the_header() {
        let md = "intro\n| a | b |\n|---|---|\n| 1 | **2** |\n| 3 |  |\n\ntext\n| a | b |\n|---|---|\n| 5 | 6 |\n";
        let t = tables(md, H).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0], vec![vec!["1", "**2**"], vec!["3", ""]]);
        assert_eq!(t[1], vec![vec!["5", "6"]]);
    }

    #[test]
    fn a_broken_table_is_named() {
        let e = tables("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n", H).unwrap_err();
        assert!(e.contains("line 3: 3 cells, the table has 2"), "{e}");
        let e = tables("| a | b |\n| 1 | 2 |\n", H).unwrap_err();
        assert!(e.contains("no |---| line"), "{e}");
        let e = tables("| a | c |\n|---|---|\n| 1 | 2 |\n", H).unwrap_err();
        assert!(e.contains("no table has the header"), "{e}");
        let e = tables("| a | b |\n|---|---|\n\n", H).unwrap_err();
        assert!(e.contains("without rows"), "{e}");
    }
}
