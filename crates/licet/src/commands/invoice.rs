//! `licet invoice preview|issue`: a tenant's invoices for a month, from the server's
//! rating, printed with the quantities that produced every line. Amounts are integers in
//! the currency's minor unit (cents for USD and EUR), as the server computes them.

use crate::args::{Format, InvoiceArgs};
use crate::output::print_json;
use anyhow::{Context, Result};
use licet_client::Client;
use licet_client::wire::{InvoiceLineView, TenantInvoices};
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(args: &InvoiceArgs, issue: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let client = Client::new(&args.server).with_token(&args.token);
    let invoices = runtime
        .block_on(async {
            if issue {
                client.issue_invoices(&args.tenant, &args.period).await
            } else {
                client.invoice_preview(&args.tenant, &args.period).await
            }
        })
        .with_context(|| {
            format!(
                "cannot {} the {} invoices of tenant {} on {}",
                if issue { "issue" } else { "preview" },
                args.period,
                args.tenant,
                args.server
            )
        })?;
    match args.format {
        Format::Json => print_json(&serde_json::to_value(&invoices)?)?,
        Format::Text => print!("{}", text(&invoices)),
    }
    Ok(ExitCode::SUCCESS)
}

fn lines_text(out: &mut String, lines: &[InvoiceLineView]) {
    for line in lines {
        let _ = writeln!(
            out,
            "  {:<50} {:>9} {:<12} {:>10}   {}",
            line.description, line.quantity, line.unit, line.amount, line.detail
        );
    }
}

/// The invoices for people: one block per subscription.
fn text(invoices: &TenantInvoices) -> String {
    let mut out = String::new();
    if invoices.invoices.is_empty() {
        let _ = writeln!(
            out,
            "tenant {} had no subscription in {}",
            invoices.tenant_id, invoices.period
        );
    }
    for invoice in &invoices.invoices {
        let _ = writeln!(
            out,
            "{} {} — tenant {}, subscription {} ({}), amounts in {} minor units",
            invoice.period,
            invoice.status,
            invoices.tenant_id,
            invoice.subscription_id,
            invoice.product_id,
            invoice.currency
        );
        let _ = writeln!(
            out,
            "  {:<50} {:>9} {:<12} {:>10}   how",
            "line", "quantity", "unit", "amount"
        );
        lines_text(&mut out, &invoice.lines);
        for late in &invoice.late_usage {
            let _ = writeln!(out, "  late usage for {}:", late.period);
            lines_text(&mut out, &late.lines);
        }
        let _ = writeln!(out, "  {:<50} {:>33}", "total", invoice.total);
    }
    out
}
