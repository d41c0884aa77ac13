//! Layout helpers shared by every section: tables, sections, indentation, plurals,
//! counters and durations.

use std::collections::BTreeMap;

/// `1 VPC`, `2 VPCs`: `n` and the noun in the right number.
pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Indents every line of `text` by `n` spaces.
pub(super) fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Appends `cell` to `out`, then spaces up to `width` characters. Padding is written by
/// hand, not with `{:<width$}`: a formatting width above `u16::MAX` panics, and no cell
/// (however long an id a file holds) may make a renderer panic.
pub(super) fn push_padded(out: &mut String, cell: &str, width: usize) {
    out.push_str(cell);
    let n = width.saturating_sub(cell.chars().count());
    out.extend(std::iter::repeat_n(' ', n));
}

/// The ids joined with `, `, or `-` when there are none.
pub(super) fn ids_or_dash(ids: Vec<String>) -> String {
    if ids.is_empty() {
        "-".to_string()
    } else {
        ids.join(", ")
    }
}

/// A section of `vpcctl show`: its title line, then `rows` under `headers`, or `none`.
pub(crate) fn section(title: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let body = if rows.is_empty() {
        "none\n".to_string()
    } else {
        table(headers, rows)
    };
    format!("\n{title}\n{body}")
}

/// Lays out rows under headers, columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                push_padded(&mut l, c, w);
                l.push_str("  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Position `i` as one of the data plane's index types (`EniIdx`, `NaclIdx`, …), from a
/// saturated `u32`.
pub(super) fn idx32<T: From<u32>>(i: usize) -> T {
    T::from(u32::try_from(i).unwrap_or(u32::MAX))
}

/// Drop counters as `reason=count` pairs separated by spaces, or `-` when there are none.
pub(super) fn drops_text(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        "-".to_string()
    } else {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A duration in milliseconds as `350s` or `1.5s` (whole seconds without a fraction).
pub(super) fn duration_text(ms: u64) -> String {
    let (secs, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("{secs}s")
    } else {
        let frac = format!("{frac:03}");
        format!("{secs}.{}s", frac.trim_end_matches('0'))
    }
}
