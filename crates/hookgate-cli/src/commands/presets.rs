//! `hookgate presets`: every preset a `[providers.<name>]` table may name, the built-in
//! ones and the operator's (`presets_dir`): name, aliases, scheme, signature header and
//! handshake. Needs no secrets: it reads only `presets_dir` from the config file (when the
//! file exists), so it works on a machine without the gateway's environment.
//!
//! `--json` prints the same rows for scripts; `--markdown` prints the README's provider
//! guide ([`crate::guide`]), which `scripts/gen-provider-guide` splices into README.md.

use std::{path::Path, process::ExitCode};

use anyhow::Context;
use clap::Args;
use hookgate_core::{PresetCatalog, config};
use serde_json::json;

/// `presets` arguments.
#[derive(Debug, Args)]
pub struct PresetsArgs {
    /// Print JSON (one object per preset) instead of a table.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the README's provider guide (Markdown) instead of a table.
    #[arg(long)]
    pub markdown: bool,
    /// Only the built-in presets: ignore `presets_dir` (the README's guide uses this).
    #[arg(long)]
    pub builtin: bool,
}

/// The catalog a config at `path` sees: the built-in presets, plus `presets_dir` when
/// the file (or `HOOKGATE_PRESETS_DIR` beside it) sets it; only the built-in ones when
/// there is no file. Nothing else of the config is validated.
pub fn catalog(path: &Path, builtin_only: bool) -> anyhow::Result<PresetCatalog> {
    let builtin = || -> anyhow::Result<PresetCatalog> {
        Ok(PresetCatalog::builtin()
            .context("built-in presets")?
            .clone())
    };
    if builtin_only {
        return builtin();
    }
    if !path.exists() {
        return builtin();
    }
    let dir = config::figment(path)
        .find_value("presets_dir")
        .ok()
        .and_then(|v| v.into_string());
    match dir {
        Some(dir) => Ok(PresetCatalog::with_dir(Path::new(&dir))?),
        None => builtin(),
    }
}

/// Print the presets.
pub fn run(config_path: &Path, args: &PresetsArgs) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config_path, args.builtin)?;
    if args.markdown {
        println!("{}", crate::guide::BEGIN);
        print!("{}", crate::guide::markdown(&catalog));
        println!("{}", crate::guide::END);
        return Ok(ExitCode::SUCCESS);
    }
    let rows = catalog.list();
    if args.json {
        let items: Vec<_> = rows
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "aliases": p.aliases,
                    "scheme": p.scheme.as_str(),
                    "signature_header": p.signature_header,
                    "handshake": p.handshake,
                    "handshake_get": p.handshake_get,
                    "has_vectors": p.has_vectors,
                    "display_name": p.docs.display_name,
                    "docs_url": p.docs.docs_url,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.aliases.join(", "),
                p.scheme.as_str().to_owned(),
                p.signature_header
                    .clone()
                    .unwrap_or_else(|| "(in the body)".into()),
                match p.handshake {
                    Some(kind) if p.handshake_get => format!("{kind} (GET)"),
                    Some(kind) => kind.to_owned(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let header = [
        "PRESET",
        "ALIASES",
        "SCHEME",
        "SIGNATURE HEADER",
        "HANDSHAKE",
    ];
    let mut widths = header.map(str::len);
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in &table {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    println!(
        "\n{} presets. Use one with `preset = \"<name>\"` in [providers.<name>]; \
         `hookgate presets --markdown` prints the setup guide.",
        table.len()
    );
    Ok(ExitCode::SUCCESS)
}
