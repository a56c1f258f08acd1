//! A Dataset artifact produced by one task and read by the next.
//!
//! ```text
//! cargo run --release --example artifacts -- compile
//! ```
use std::io::Write;

use kfp_sdk::prelude::*;

/// Writes `rows` lines of comma-separated numbers: `i,i*i`.
#[component]
fn make_squares(rows: u32, table: Output<Dataset>) -> Result<(), std::io::Error> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(table.path())?);
    for i in 0..rows {
        writeln!(file, "{i},{}", u64::from(i) * u64::from(i))?;
    }
    file.flush()?;
    table.set_metadata("rows", rows);
    Ok(())
}

/// The count and sum of the second column.
#[derive(ComponentOutputs)]
struct Summary {
    count: u64,
    total: u64,
}

/// Reads the table and sums its second column.
#[component]
fn summarize(table: Input<Dataset>) -> Result<Summary, String> {
    let text = std::fs::read_to_string(table.path()).map_err(|e| e.to_string())?;
    let mut summary = Summary { count: 0, total: 0 };
    for (number, line) in text.lines().enumerate() {
        let value = line
            .split(',')
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("line {}: expected `i,square`, got {line:?}", number + 1))?;
        summary.count += 1;
        summary.total += value;
    }
    Ok(summary)
}

/// Makes a table of squares, then sums it.
#[pipeline]
fn artifacts(#[default(10)] rows: u32) -> ParamRef<u64> {
    let table = make_squares::task(rows);
    let summary = summarize::task(&table.outputs.table).memory_limit("256Mi");
    summary.outputs.total.clone()
}

kfp_sdk::main!();
