//! `licet import`: a vendor's existing customers and license keys (any format, e.g.
//! Foxsight's `FXSGHT-…`) from a CSV or JSON file into a Licet server, with a progress
//! bar, or with `--dry-run` a report of every row that would be refused and why.
//!
//! The file is read and checked here row by row (a row this command cannot read is
//! refused with its line, not the whole file), then sent to `POST /v1/imports` in parts
//! of [`IMPORT_ROWS_MAX`] rows; the server checks each row against its catalogs,
//! tenants and keys. Running an import again skips what it imported before.

use crate::args::{Format, ImportArgs, ImportInput};
use crate::output::print_json;
use anyhow::{Context, Result, bail};
use licet_client::Client;
use licet_client::wire::{
    AddonQuantity, IMPORT_ROWS_MAX, ImportRefusal, ImportReport, ImportRequest, ImportRow,
};
use std::path::Path;
use std::process::ExitCode;

/// Exit code when some rows were (or on a dry run, would be) refused.
const EXIT_REFUSED: u8 = 3;

pub fn run(args: &ImportArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let input = match args.input {
        Some(input) => input,
        None => input_of(&args.file)?,
    };
    let (rows, mut refused) = match input {
        ImportInput::Csv => read_csv(&text)?,
        ImportInput::Json => read_json(&text)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let client = Client::new(&args.server).with_token(&args.token);
    let total = rows.len() + refused.len();
    let progress = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .context("the progress bar's template")?,
    );
    progress.inc(u64::try_from(refused.len()).unwrap_or(0));
    let mut report = ImportReport {
        dry_run: args.dry_run,
        imported: 0,
        already_imported: 0,
        tenants_created: 0,
        refused: Vec::new(),
    };
    for part in rows.chunks(IMPORT_ROWS_MAX) {
        let request = ImportRequest {
            dry_run: args.dry_run,
            rows: part.to_vec(),
        };
        let done = runtime.block_on(client.import(&request)).with_context(|| {
            format!(
                "cannot import into {} (lines {} to {}); rows before them are imported, and \
                     running the import again skips them",
                args.server,
                part.first().and_then(|r| r.line).unwrap_or(0),
                part.last().and_then(|r| r.line).unwrap_or(0),
            )
        })?;
        report.imported += done.imported;
        report.already_imported += done.already_imported;
        report.tenants_created += done.tenants_created;
        report.refused.extend(done.refused);
        progress.inc(u64::try_from(part.len()).unwrap_or(0));
    }
    progress.finish_and_clear();
    refused.append(&mut report.refused);
    refused.sort_by_key(|r| r.line);
    report.refused = refused;
    match args.format {
        Format::Json => print_json(&serde_json::to_value(&report)?)?,
        Format::Text => print!("{}", text_of(&report, total)),
    }
    Ok(if report.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    })
}

fn input_of(file: &Path) -> Result<ImportInput> {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "csv" => Ok(ImportInput::Csv),
        Some(e) if e == "json" => Ok(ImportInput::Json),
        _ => bail!(
            "cannot tell the format of {} from its name; say --input csv or --input json",
            file.display()
        ),
    }
}

/// A row this command could not read, refused before anything is sent.
fn unreadable(line: u64, key: &str, message: String) -> ImportRefusal {
    let chars: Vec<char> = key.trim().chars().collect();
    ImportRefusal {
        line,
        license_key_hint: chars[chars.len().saturating_sub(4)..].iter().collect(),
        code: "unreadable_row".into(),
        message,
    }
}

/// The columns a CSV file may have; `product_id`, `plan` and `license_key` are needed,
/// and `customer` or `tenant_id`.
const COLUMNS: &[&str] = &[
    "customer",
    "tenant_id",
    "product_id",
    "plan",
    "addons",
    "license_key",
    "trial",
    "term_ends_at",
];

/// Reads a CSV file with a header line. `addons` is `id:quantity` pairs separated by
/// `;` (`advanced_analytics:3;people_counting`); `trial` is true/false (yes/no, 1/0).
fn read_csv(text: &str) -> Result<(Vec<ImportRow>, Vec<ImportRefusal>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .context("cannot read the CSV header line")?
        .clone();
    let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if let Some(unknown) = names.iter().find(|n| !COLUMNS.contains(&n.as_str())) {
        bail!(
            "the CSV header has a column {unknown:?} this import does not know; the columns are {}",
            COLUMNS.join(", ")
        );
    }
    for needed in ["product_id", "plan", "license_key"] {
        if !names.iter().any(|n| n == needed) {
            bail!(
                "the CSV header has no {needed:?} column; the columns are {}",
                COLUMNS.join(", ")
            );
        }
    }
    if !names.iter().any(|n| n == "customer" || n == "tenant_id") {
        bail!("the CSV header needs a \"customer\" or a \"tenant_id\" column");
    }
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                refused.push(unreadable(line, "", format!("not a CSV row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let field = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let key = field("license_key").unwrap_or_default();
        let addons = match field("addons").map(|text| addons_of(&text)).transpose() {
            Ok(addons) => addons.unwrap_or_default(),
            Err(message) => {
                refused.push(unreadable(line, &key, message));
                continue;
            }
        };
        let trial = match field("trial")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false" | "no" | "0") => false,
            Some("true" | "yes" | "1") => true,
            Some(other) => {
                refused.push(unreadable(
                    line,
                    &key,
                    format!("`trial` is {other:?}; write true or false"),
                ));
                continue;
            }
        };
        rows.push(ImportRow {
            line: Some(line),
            customer: field("customer"),
            tenant_id: field("tenant_id"),
            product_id: field("product_id").unwrap_or_default(),
            plan: field("plan").unwrap_or_default(),
            addons,
            license_key: key,
            trial,
            term_ends_at: field("term_ends_at"),
        });
    }
    Ok((rows, refused))
}

fn addons_of(text: &str) -> Result<Vec<AddonQuantity>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (id, quantity) = match part.split_once(':') {
                Some((id, quantity)) => (id.trim(), quantity.trim()),
                None => (part, "1"),
            };
            let quantity = quantity.parse::<u64>().map_err(|_| {
                format!("`addons`: {part:?} is not id:quantity with a whole quantity, e.g. advanced_analytics:3")
            })?;
            Ok(AddonQuantity {
                id: id.to_owned(),
                quantity,
            })
        })
        .collect()
}

/// Reads a JSON array of rows (the fields of `POST /v1/imports`' rows); each row's line
/// is its position in the array, from 1.
fn read_json(text: &str) -> Result<(Vec<ImportRow>, Vec<ImportRefusal>)> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).context("the file is not a JSON array of rows")?;
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let line = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
        let key = value
            .get("license_key")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match serde_json::from_value::<ImportRow>(value) {
            Ok(mut row) => {
                row.line = Some(line);
                rows.push(row);
            }
            Err(e) => refused.push(unreadable(line, &key, format!("row {line}: {e}"))),
        }
    }
    Ok((rows, refused))
}

fn text_of(report: &ImportReport, total: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (verb, tenants) = if report.dry_run {
        ("would be imported", "would be created")
    } else {
        ("imported", "created")
    };
    let _ = writeln!(
        out,
        "{}{total} rows: {} {verb}, {} already imported, {} refused; {} tenants {tenants}",
        if report.dry_run {
            "dry run, nothing written. "
        } else {
            ""
        },
        report.imported,
        report.already_imported,
        report.refused.len(),
        report.tenants_created,
    );
    for refusal in &report.refused {
        let _ = writeln!(
            out,
            "line {:<6} key …{:<4}  {:<22} {}",
            refusal.line, refusal.license_key_hint, refusal.code, refusal.message
        );
    }
    out
}
