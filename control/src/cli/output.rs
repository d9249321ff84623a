//! Output formats: Docker-style aligned tables, or JSON for scripts.

use std::io::Write;

use serde::Serialize;

/// How a command prints its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with an upper-case header, like `docker ... ls`.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// A table of string cells with a header row.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Append a row; it must have one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// Render with columns separated by at least three spaces, as Docker does.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        std::iter::once(&header)
            .chain(&self.rows)
            .map(|row| render_row(row, &widths))
            .collect()
    }
}

fn render_row(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
        if i + 1 == row.len() {
            line.push_str(cell);
        } else {
            line.push_str(&format!("{cell:<width$}   "));
        }
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

/// Print `value` as JSON or, for tables, with `table`.
pub fn print<T: Serialize>(
    format: Format,
    value: &T,
    table: impl FnOnce(&T) -> Table,
) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value)? + "\n",
        Format::Table => table(value).render(),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// Print a list as `ls`/`ps` do: only the IDs with `-q`, else JSON or the
/// table.
pub fn print_list<T: Serialize>(
    format: Format,
    quiet: bool,
    items: &[T],
    id: impl Fn(&T) -> &str,
    table: impl FnOnce(&[T]) -> Table,
) -> anyhow::Result<()> {
    if quiet {
        let ids: String = items.iter().map(|item| format!("{}\n", id(item))).collect();
        std::io::stdout().lock().write_all(ids.as_bytes())?;
        return Ok(());
    }
    print(format, &items, |items| table(items))
}

/// Print `value` as pretty JSON.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// Print `value` as JSON or, for the table format, as the message `text`
/// makes of it.
pub fn print_text<T: Serialize>(
    format: Format,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(value),
        Format::Table => {
            std::io::stdout().lock().write_all(text(value).as_bytes())?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_like_docker() {
        let mut t = Table::new(&["COUNTER", "PACKETS"]);
        t.row(vec!["rx".into(), "12".into()]);
        t.row(vec!["drop/truncated-ipv4".into(), "3".into()]);
        assert_eq!(
            t.render(),
            "COUNTER               PACKETS\nrx                    12\ndrop/truncated-ipv4   3\n"
        );
    }
}
