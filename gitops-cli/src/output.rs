//! Printing diff results. Colour goes through `anstream`, which drops it when stdout is
//! not a terminal or `NO_COLOR` is set.

use std::io::{self, Write};

use gitops_core::diff::{AppDiff, DiffMode, ObjectDiff, SyncStatus};
use gitops_core::report::{self, Report};

use crate::diff_cmd::Format;

pub(crate) const RED: &str = "\x1b[31m";
pub(crate) const GREEN: &str = "\x1b[32m";
pub(crate) const CYAN: &str = "\x1b[36m";
pub(crate) const YELLOW: &str = "\x1b[33m";
pub(crate) const BOLD: &str = "\x1b[1m";
pub(crate) const RESET: &str = "\x1b[0m";

/// Prints `diff` in `format`.
pub fn print(diff: &AppDiff, format: Format, explain: bool) -> io::Result<()> {
    let mut out = anstream::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &Report::of(diff))?;
            writeln!(out)
        }
        Format::Yaml => {
            let value = serde_json::to_value(Report::of(diff)).map_err(io::Error::other)?;
            write!(out, "{}", report::display_yaml(&value))
        }
        Format::Summary => {
            for o in &diff.objects {
                status_line(&mut out, o)?;
                if explain {
                    explanation(&mut out, o)?;
                }
            }
            totals(&mut out, diff)
        }
        Format::Diff => {
            for o in
                diff.objects.iter().filter(|o| o.status != SyncStatus::Synced || (explain && !o.ignored.is_empty()))
            {
                if explain {
                    status_line(&mut out, o)?;
                    explanation(&mut out, o)?;
                }
                for line in report::unified(o).lines() {
                    let colour = if line.starts_with("+++") || line.starts_with("---") {
                        BOLD
                    } else if line.starts_with('+') {
                        GREEN
                    } else if line.starts_with('-') {
                        RED
                    } else if line.starts_with("@@") {
                        CYAN
                    } else {
                        ""
                    };
                    if colour.is_empty() {
                        writeln!(out, "{line}")?;
                    } else {
                        writeln!(out, "{colour}{line}{RESET}")?;
                    }
                }
            }
            totals(&mut out, diff)
        }
    }
}

fn status_line(out: &mut impl Write, o: &ObjectDiff) -> io::Result<()> {
    let colour = match o.status {
        SyncStatus::Synced => GREEN,
        SyncStatus::OutOfSync => YELLOW,
        SyncStatus::Missing | SyncStatus::RequiresPruning => RED,
    };
    let extra = if o.ignore_extraneous { " (IgnoreExtraneous)" } else { "" };
    writeln!(out, "{colour}{:<16}{RESET} {}{extra}", o.status.to_string(), o.key)
}

fn explanation(out: &mut impl Write, o: &ObjectDiff) -> io::Result<()> {
    let mode = match o.mode {
        DiffMode::ThreeWay => "three-way, through live's last-applied-configuration (fields removed from Git count)",
        DiffMode::TwoWay => "two-way (no last-applied-configuration: fields only live has never count)",
        DiffMode::OneSided => "one side only",
        DiffMode::ServerSide => "server-side, predicted by a server-side apply dry run (as Argo CD's ServerSideDiff)",
    };
    writeln!(out, "    mode: {mode}")?;
    if let Some(origin) = &o.desired_origin {
        writeln!(out, "    desired: {origin}")?;
    }
    if let Some(origin) = &o.live_origin {
        writeln!(out, "    live: {origin}")?;
    }
    for p in o.changed_paths() {
        let p = if p.is_empty() { "(the whole object)".to_string() } else { p };
        writeln!(out, "    changed: {p}")?;
    }
    for i in &o.ignored {
        writeln!(out, "    ignored: {} by `{}` ({})", i.path, i.by, i.rule)?;
    }
    for w in &o.warnings {
        writeln!(out, "    {YELLOW}warning{RESET}: {w}")?;
    }
    Ok(())
}

fn totals(out: &mut impl Write, diff: &AppDiff) -> io::Result<()> {
    let s = &diff.summary;
    let verdict = if s.modified { format!("{YELLOW}OutOfSync{RESET}") } else { format!("{GREEN}Synced{RESET}") };
    writeln!(
        out,
        "{verdict}: {} synced, {} out of sync, {} missing, {} requiring pruning, {} skipped",
        s.synced, s.out_of_sync, s.missing, s.requires_pruning, s.skipped
    )
}

/// A key's kind as output names it: `group/Kind`, or `Kind` in the core group.
pub(crate) fn kind_of(k: &gitops_core::ResourceKey) -> String {
    if k.group.is_empty() { k.kind.clone() } else { format!("{}/{}", k.group, k.kind) }
}

/// A key's place as output names it: `namespace/name`, or `name` when cluster-scoped.
pub(crate) fn place_of(k: &gitops_core::ResourceKey) -> String {
    if k.namespace.is_empty() { k.name.clone() } else { format!("{}/{}", k.namespace, k.name) }
}
