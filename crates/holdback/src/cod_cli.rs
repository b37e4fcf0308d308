//! `holdback cod …`: carriers' remittance files and event files, for the people who run
//! cash on delivery.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use holdback_app::{App, Policy, Principal, Role, parcels, remittance_lines, remittances};
use holdback_domain::cod::CarrierEvent;
use holdback_remit::Profile;
use holdback_store::Store;

#[derive(clap::Subcommand)]
pub enum CodCommand {
    /// Imports a carrier's remittance file and reconciles it: every line classified against
    /// the parcels holdback knows, matched lines posted to the ledger once, ever. The same file
    /// again posts nothing (already imported). Refused whole, by name, when its bytes are not
    /// in the profile's encoding, a reference is in spreadsheet exponent form, or a date reads
    /// two ways. Exits 0 when imported, 2 when refused.
    Reconcile {
        /// The remittance file (CSV, XLSX or JSON, as the profile says).
        file: PathBuf,
        /// The carrier profile: a TOML file, or the name of a known one (e.g. gulf_express).
        #[arg(long)]
        carrier: String,
        /// Print the report as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Also write the lines as classified to this CSV file.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// A live-mode remittance (test mode's by default).
        #[arg(long)]
        live: bool,
    },
    /// Takes a carrier's events from a CSV file with the columns `event_id, tracking, event,
    /// occurred` (Unix seconds) and `cash_collected` (minor units, for delivered), as if each
    /// were posted to `/v1/parcels/{tracking}/events`: an id taken before changes nothing.
    Events {
        file: PathBuf,
        /// The carrier whose parcels the events are about.
        #[arg(long)]
        carrier: String,
        #[arg(long)]
        live: bool,
    },
    /// Accepts a short- or over-paid line of an imported remittance as the carrier paid it:
    /// the line posts (the difference from the rate card booked as an expense, or a gain) and
    /// its parcel counts as remitted. Once: again changes nothing. Exits 2 when refused.
    Accept {
        /// The remittance's id (rmt_…), as the report gives it.
        remittance: String,
        /// The line's number, as the report's lines give it.
        line: i64,
        /// Why the carrier's figures are accepted (kept with the line).
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        live: bool,
    },
}

fn operator(live: bool) -> Principal {
    Principal {
        key_id: "cli".into(),
        role: Role::Platform,
        livemode: live,
    }
}

fn profile(app: &App, name: &str) -> anyhow::Result<Profile> {
    let path = std::path::Path::new(name);
    if path.is_file() {
        let text = std::fs::read_to_string(path)?;
        return Profile::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", e.code()));
    }
    remittances::profile(app, name)
        .cloned()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A progress bar on a terminal's stderr (nothing when stderr is not one).
fn bar(done: u64, total: u64) {
    let mut err = std::io::stderr();
    if !err.is_terminal() || total == 0 {
        return;
    }
    let width = 40u64;
    let filled = (done.min(total) * width / total) as usize;
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total} lines",
        "#".repeat(filled),
        ".".repeat(width as usize - filled)
    );
    if done >= total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

pub async fn run(store: Store, command: CodCommand) -> anyhow::Result<ExitCode> {
    store.migrate().await?;
    let app = crate::serve::app(store, Policy::default());
    match command {
        CodCommand::Reconcile {
            file,
            carrier,
            json,
            csv,
            live,
        } => {
            let profile = profile(&app, &carrier)?;
            let source = remittances::Source::Path(file);
            let report =
                match remittances::import(&app, &operator(live), &profile, &source, &bar).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("refused: {e}");
                        return Ok(ExitCode::from(2));
                    }
                };
            if let Some(path) = csv {
                write_lines(&app, live, report["id"].as_str().unwrap_or(""), &path).await?;
            }
            if json {
                println!("{report}");
            } else {
                summary(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        CodCommand::Events {
            file,
            carrier,
            live,
        } => events(&app, &file, &carrier, live).await,
        CodCommand::Accept {
            remittance,
            line,
            note,
            live,
        } => {
            let who = operator(live);
            match remittance_lines::accept(&app, &who, &remittance, line, &note).await {
                Ok(l) => {
                    println!("{l}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("refused: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

fn summary(r: &serde_json::Value) {
    let t = &r["totals"];
    println!(
        "remittance {} batch {} of {}{}",
        r["id"].as_str().unwrap_or("?"),
        r["batch"].as_str().unwrap_or("?"),
        r["carrier"].as_str().unwrap_or("?"),
        if r["already_imported"] == true {
            " (already imported: nothing posted)"
        } else {
            ""
        }
    );
    println!(
        "lines {}  gross {}  deductions {}  net {}  (minor units of {})",
        t["lines"], t["gross"], t["deductions"], t["net"], r["currency"]
    );
    if let Some(classes) = r["classes"].as_object() {
        for (class, c) in classes {
            println!(
                "  {class:<18} {:>8} lines  net {:>14}  delta {:>12}",
                c["lines"], c["reported_net"], c["delta"]
            );
        }
    }
    if let Some(classes) = r["collections"]["classes"].as_object() {
        for (class, c) in classes {
            println!(
                "  {class:<18} {:>8} parcels collected {:>12}",
                c["parcels"], c["collected"]
            );
        }
    }
    let identity = if r["identity"]["ok"] == true {
        "holds".to_string()
    } else {
        format!("broken: {}", r["identity"]["differences"])
    };
    println!(
        "batch identity (gross - deductions = net = bank credit): {identity}; posted now {}",
        r["posted_now"]
    );
}

/// The remittance's lines as classified, as CSV.
async fn write_lines(app: &App, live: bool, id: &str, path: &PathBuf) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "line,tracking,parcel,class,expected_net,reported_net,delta,deductions,warnings"
    )?;
    let mut after = 0;
    loop {
        let (page, more) = remittance_lines::lines(app, &operator(live), id, after, 1_000)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for l in &page {
            after = l["line"].as_i64().unwrap_or(after);
            let deductions: Vec<String> = l["deductions"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            let warnings: Vec<&str> = l["warnings"]
                .as_array()
                .map(|a| a.iter().filter_map(|w| w.as_str()).collect())
                .unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                l["line"],
                csv_text(l["tracking"].as_str().unwrap_or("")),
                l["parcel"].as_str().unwrap_or(""),
                l["class"].as_str().unwrap_or(""),
                l["expected_net"]
                    .as_i64()
                    .map_or(String::new(), |v| v.to_string()),
                l["reported_net"],
                l["delta"],
                deductions.join("|"),
                warnings.join("|"),
            )?;
        }
        if !more {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn events(app: &App, file: &PathBuf, carrier: &str, live: bool) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file)?;
    let (mut applied, mut ignored, mut refused) = (0, 0, 0);
    for (n, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let [id, tracking, event, occurred, rest @ ..] = cells.as_slice() else {
            anyhow::bail!(
                "line {}: event_id, tracking, event, occurred[, cash_collected]",
                n + 1
            );
        };
        let event = CarrierEvent::parse(event)
            .ok_or_else(|| anyhow::anyhow!("line {}: no event {event:?}", n + 1))?;
        let occurred: i64 = occurred.parse()?;
        let cash = match rest.first().filter(|c| !c.is_empty()) {
            Some(c) => Some(c.parse::<i64>()?),
            None => None,
        };
        let report = parcels::Report {
            event_id: (*id).to_string(),
            event,
            occurred_at: occurred * 1000,
            cash,
            carrier: Some(carrier.to_string()),
        };
        match parcels::report(app, &operator(live), tracking, &report, None).await {
            Ok(v) if v["outcome"] == "applied" => applied += 1,
            Ok(_) => ignored += 1,
            Err(e) => {
                refused += 1;
                eprintln!("line {}: {e}", n + 1);
            }
        }
    }
    println!("{applied} applied, {ignored} ignored or repeated, {refused} refused");
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
