//! The HTML page: one self-contained page of charts and tables for an
//! auditor (coverage and freshness, figures per account and per vault,
//! failures with their full messages).
//!
//! The charts are SVG drawn by plotters' SVG backend and inlined in the page;
//! the styles are inline too. The page loads nothing: no script, no font, no
//! image, no style sheet from anywhere, so it can be mailed, archived as audit
//! evidence, or opened on a machine without network access. (The SVG `xmlns`
//! attribute is dropped: inline SVG in HTML does not need it.)
//!
//! Every chart is an image with a text alternative: `role="img"`, a
//! `<title>` and a `<desc>` that gives its numbers. States are told apart
//! by pattern as well as by colour (failed bars are hatched, running ones
//! dotted, created ones striped), and the figures that people compare
//! (top resources, top messages) are tables with bars, so that no label is
//! ever cut.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use backup_model::Timestamp;
use plotters::prelude::*;

use crate::query::{
    AccountRow, CountRow, CoverageRow, DailyRow, FailureRow, HistogramBin, ReportFilter, StaleRow,
    SummaryRow, VaultRow,
};
use crate::values::{human_bytes, Time};

/// Everything the page shows, read with one filter.
#[derive(Debug)]
pub struct PageData {
    /// When the page was made.
    pub generated_at: Timestamp,
    /// The filter every section was read with.
    pub filter: ReportFilter,
    /// `--older-than` for the stale list, for people (`7 days`).
    pub older_than: String,
    /// `--stale-after` for the coverage section, for people (`24 hours`).
    pub stale_after: String,
    /// Jobs by state.
    pub summary: Vec<SummaryRow>,
    /// Copies per day, account, region and vault.
    pub daily: Vec<DailyRow>,
    /// The duration histogram.
    pub durations: Vec<HistogramBin>,
    /// The resources with most failures.
    pub top_resources: Vec<CountRow>,
    /// The messages of most failures.
    pub top_messages: Vec<CountRow>,
    /// Per destination vault (any order: the page sorts by failures).
    pub vaults: Vec<VaultRow>,
    /// Per source account, most failures first.
    pub accounts: Vec<AccountRow>,
    /// The coverage ledger, stale targets first; `None` when the database
    /// has no ledger.
    pub coverage: Option<Vec<CoverageRow>>,
    /// The latest failures, newest first.
    pub failures: Vec<FailureRow>,
    /// How many failures there are in all.
    pub failures_total: i64,
    /// Resources without a recent completed copy.
    pub stale: Vec<StaleRow>,
}

/// `7 days`, `12 hours`, `90 minutes`.
pub fn describe_age(age: Duration) -> String {
    let secs = age.as_secs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        plural(secs / 86_400, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

/// The colour of each state a non-parent job can be in, in stacking order
/// (bottom first), and the pattern that tells it without colour (none:
/// solid). PARTIAL is a composite parent's state, and parents are not
/// counted per day.
const STATES: [(&str, RGBColor, &str); 4] = [
    ("COMPLETED", RGBColor(46, 157, 91), ""),
    ("FAILED", RGBColor(214, 69, 69), "hatched"),
    ("RUNNING", RGBColor(59, 130, 196), "dotted"),
    ("CREATED", RGBColor(154, 165, 177), "striped"),
];
/// The SVG pattern of `pattern` over `color`, with id `state-PATTERN`.
fn svg_pattern(pattern: &str, color: RGBColor) -> String {
    let fill = format!("rgb({},{},{})", color.0, color.1, color.2);
    let marks = match pattern {
        "hatched" => {
            "<path d=\"M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4\" stroke=\"#fff\" stroke-width=\"1.6\"/>"
        }
        "dotted" => "<circle cx=\"4\" cy=\"4\" r=\"1.4\" fill=\"#fff\"/>",
        _ => "<path d=\"M0,2 h8 M0,6 h8\" stroke=\"#fff\" stroke-width=\"1.2\"/>",
    };
    format!(
        "<pattern id=\"state-{pattern}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\">\
         <rect width=\"8\" height=\"8\" fill=\"{fill}\"/>{marks}</pattern>"
    )
}

/// The CSS background of a legend swatch: the same pattern as the bars.
fn css_pattern(pattern: &str, color: RGBColor) -> String {
    let fill = format!("rgb({},{},{})", color.0, color.1, color.2);
    match pattern {
        "hatched" => format!("repeating-linear-gradient(45deg,{fill} 0 3px,#fff 3px 4.5px)"),
        "dotted" => format!("radial-gradient(#fff 30%,transparent 32%) 0 0/5px 5px,{fill}"),
        "striped" => format!("repeating-linear-gradient(0deg,{fill} 0 3px,#fff 3px 4px)"),
        _ => fill,
    }
}

const INK: RGBColor = RGBColor(55, 65, 81);
const GRID: RGBColor = RGBColor(229, 231, 235);
const BLUE: RGBColor = RGBColor(59, 130, 196);
const RED: RGBColor = RGBColor(214, 69, 69);
const PURPLE: RGBColor = RGBColor(124, 92, 196);
const DAY_MS: i64 = 86_400_000;

/// Chart size in SVG pixels; the page scales it to its column.
const WIDE: (u32, u32) = (720, 320);

/// How many rows the page's tables show; the CLI reports have them all.
pub const TABLE_ROWS: usize = 25;

/// A chart's text alternative: a title and a description of its numbers.
struct Alt {
    title: &'static str,
    desc: String,
}

/// Makes a chart an accessible image: `role="img"`, and `<title>` and
/// `<desc>` as its first children, named by `aria-labelledby`.
fn accessible(svg: String, id: &str, alt: &Alt, defs: &str) -> String {
    let Some(open_end) = svg.find('>') else {
        return svg;
    };
    let (open, rest) = svg.split_at(open_end);
    format!(
        "{open} role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{defs}{}",
        esc(alt.title),
        esc(&alt.desc),
        &rest[1..]
    )
}

/// Renders the page.
pub fn render(data: &PageData) -> std::io::Result<String> {
    let days = per_day(&data.daily);
    let mut page = String::with_capacity(256 * 1024);
    page.push_str(HEAD);

    let _ = write!(
        page,
        "<header><h1>AWS Backup copy jobs</h1><p class=\"scope\">{}</p>\
         <p class=\"generated\">Generated {} by backup-audit</p></header>",
        esc(&describe_filter(&data.filter)),
        esc(&data.generated_at.to_string())
    );

    tiles(&mut page, data);
    coverage_table(&mut page, data);

    page.push_str("<section class=\"grid\">");
    let legend = states_legend();
    figure(
        &mut page,
        "Copies per day, by state",
        "Non-parent jobs by UTC day of creation.",
        chart_or_empty(!days.is_empty(), "No copy jobs in this period.", || {
            copies_per_day(&days)
        })?,
        &legend,
    );
    figure(
        &mut page,
        "Data copied per day",
        "BackupSizeInBytes of completed copies.",
        chart_or_empty(
            days.iter().any(|d| d.completed_bytes > 0),
            "No completed copy with a size in this period.",
            || bytes_per_day(&days),
        )?,
        "",
    );
    figure(
        &mut page,
        "Failure rate per day",
        "FAILED among finished copies (completed or failed).",
        chart_or_empty(
            days.iter().any(|d| d.finished() > 0),
            "No finished copy in this period.",
            || failure_rate(&days),
        )?,
        "",
    );
    figure(
        &mut page,
        "How long completed copies took",
        "CompletionDate − CreationDate of completed copies.",
        chart_or_empty(
            !data.durations.is_empty(),
            "No completed copy in this period.",
            || duration_histogram(&data.durations),
        )?,
        "",
    );
    figure(
        &mut page,
        "Top failing resources",
        "FAILED and PARTIAL jobs per resource (composite parents included).",
        top_table(&data.top_resources, "Resource", "red"),
        "",
    );
    figure(
        &mut page,
        "Top failure messages",
        "FAILED and PARTIAL jobs per status message, in full.",
        top_table(&data.top_messages, "Message", "purple"),
        "",
    );
    page.push_str("</section>");

    accounts_table(&mut page, &data.accounts);
    stale_table(&mut page, data);
    vaults_table(&mut page, &data.vaults);
    failures_table(&mut page, &data.failures, data.failures_total);

    page.push_str(
        "<footer>Counts, bytes and durations are of non-parent jobs (standalone jobs and the \
         children of composite jobs), so that a composite copy is not counted twice; failures \
         include composite parents, since PARTIAL is a parent's state. Days are UTC. \
         The same numbers are available with <code>backup-audit report summary|daily|durations|\
         vaults|accounts|failures|stale|coverage</code> and in the <code>report_*</code> views.</footer>",
    );
    page.push_str("</main></body></html>\n");
    Ok(page)
}

/// The copies of one day, all accounts, regions and vaults together.
#[derive(Debug, Clone, Default)]
struct Day {
    label: String,
    by_state: BTreeMap<&'static str, i64>,
    completed_bytes: i128,
}

impl Day {
    fn count(&self, state: &str) -> i64 {
        self.by_state.get(state).copied().unwrap_or(0)
    }
    fn total(&self) -> i64 {
        self.by_state.values().sum()
    }
    fn finished(&self) -> i64 {
        self.count("COMPLETED") + self.count("FAILED")
    }
}

/// Every day from the first to the last in `rows`, days without copies
/// included (as zeros), so that gaps show.
fn per_day(rows: &[DailyRow]) -> Vec<Day> {
    let index = |day: &str| {
        Timestamp::parse_rfc3339(day)
            .ok()
            .map(|t| t.as_millis().div_euclid(DAY_MS))
    };
    let known: Vec<i64> = rows.iter().filter_map(|r| index(&r.day)).collect();
    let (Some(first), Some(last)) = (known.iter().min(), known.iter().max()) else {
        return Vec::new();
    };
    let mut days: Vec<Day> = (*first..=*last)
        .map(|d| Day {
            label: Timestamp::from_millis(d * DAY_MS)
                .map(|t| t.to_string()[..10].to_owned())
                .unwrap_or_default(),
            ..Day::default()
        })
        .collect();
    for row in rows {
        let Some(i) = index(&row.day) else { continue };
        let day = &mut days[(i - first) as usize];
        for (state, n) in [
            ("COMPLETED", row.completed),
            ("FAILED", row.failed),
            ("RUNNING", row.running),
            ("CREATED", row.created),
        ] {
            *day.by_state.entry(state).or_default() += n;
        }
        day.completed_bytes += row.completed_bytes.0;
    }
    days
}

fn svg_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("cannot draw a chart: {e}"))
}

/// The chart, or a short note when there is nothing to draw.
fn chart_or_empty(
    has_data: bool,
    note: &str,
    draw: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    if has_data {
        draw()
    } else {
        Ok(format!("<p class=\"empty\">{}</p>", esc(note)))
    }
}

/// Plotters writes a standalone SVG document; inline, the namespace is implied.
fn inline_svg(svg: String) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// A `MM-DD` label for day `i`, or nothing when labels would crowd.
fn day_label(days: &[Day], i: i32) -> String {
    let step = days.len().div_ceil(14).max(1);
    match usize::try_from(i) {
        Ok(i) if i < days.len() && i % step == 0 => days[i].label[5..].to_owned(),
        _ => String::new(),
    }
}

fn segment_index(v: &SegmentValue<i32>) -> i32 {
    match v {
        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => *i,
        SegmentValue::Last => i32::MAX,
    }
}

fn label_font<'a>() -> TextStyle<'a> {
    ("sans-serif", 17).into_font().color(&INK)
}

fn copies_per_day(days: &[Day]) -> std::io::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let n = days.len() as i32;
        let top = days.iter().map(Day::total).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(34)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0i64..nice_ceiling(top))
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .axis_style(GRID)
            .label_style(label_font())
            .x_labels(days.len().min(40))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => day_label(days, *i),
                _ => String::new(),
            })
            .y_labels(6)
            .y_label_formatter(&|v| v.to_string())
            .draw()
            .map_err(svg_error)?;
        let mut base = vec![0i64; days.len()];
        let gap = bar_gap(days.len());
        for (state, color, _) in STATES {
            let below = base.clone();
            let bars: Vec<(i32, i64)> = days
                .iter()
                .enumerate()
                .filter(|(_, d)| d.count(state) > 0)
                .map(|(i, d)| (i as i32, below[i] + d.count(state)))
                .collect();
            for (i, d) in days.iter().enumerate() {
                base[i] += d.count(state);
            }
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(color.filled())
                        .margin(gap)
                        .baseline_func(move |v| {
                            usize::try_from(segment_index(v))
                                .ok()
                                .and_then(|i| below.get(i).copied())
                                .unwrap_or(0)
                        })
                        .data(bars),
                )
                .map_err(svg_error)?;
        }
        root.present().map_err(svg_error)?;
    }
    let mut svg = inline_svg(svg);
    let mut defs = String::from("<defs>");
    for (_, color, pattern) in STATES.iter().filter(|s| !s.2.is_empty()) {
        let solid = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        svg = svg.replace(&solid, &format!("fill=\"url(#state-{pattern})\""));
        defs.push_str(&svg_pattern(pattern, *color));
    }
    defs.push_str("</defs>");
    let desc = per_day_desc(days, |d| {
        let counts: Vec<String> = STATES
            .iter()
            .filter(|(state, _, _)| d.count(state) > 0)
            .map(|(state, _, _)| format!("{} {}", d.count(state), state.to_ascii_lowercase()))
            .collect();
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts.join(", ")
        }
    });
    let alt = Alt {
        title: "Copies per day, by state",
        desc,
    };
    Ok(accessible(svg, "chart-copies", &alt, &defs))
}

/// Pixels between bars: less when there are many.
fn bar_gap(bars: usize) -> u32 {
    match bars {
        0..=10 => 10,
        11..=31 => 4,
        32..=90 => 1,
        _ => 0,
    }
}

/// A round number at or above `n` (1, 2, 5 × 10^k), for axis tops.
fn nice_ceiling(n: i64) -> i64 {
    let mut unit = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * unit >= n {
                return m * unit;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// The binary unit that suits `max` bytes, and its size.
fn byte_unit(max: i128) -> (&'static str, f64) {
    const UNITS: [(&str, f64); 7] = [
        ("EiB", 1152921504606846976.0),
        ("PiB", 1125899906842624.0),
        ("TiB", 1099511627776.0),
        ("GiB", 1073741824.0),
        ("MiB", 1048576.0),
        ("KiB", 1024.0),
        ("B", 1.0),
    ];
    UNITS
        .into_iter()
        .find(|(_, size)| max as f64 >= *size)
        .unwrap_or(("B", 1.0))
}

fn bytes_per_day(days: &[Day]) -> std::io::Result<String> {
    let max = days.iter().map(|d| d.completed_bytes).max().unwrap_or(0);
    let (unit, size) = byte_unit(max);
    let top = (max as f64 / size * 1.1).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let n = days.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(34)
            .x_label_area_size(28)
            .y_label_area_size(72)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .axis_style(GRID)
            .label_style(label_font())
            .x_labels(days.len().min(40))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => day_label(days, *i),
                _ => String::new(),
            })
            .y_labels(6)
            .y_label_formatter(&|v| format!("{} {unit}", trim_number(*v)))
            .draw()
            .map_err(svg_error)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(BLUE.filled())
                    .margin(bar_gap(days.len()))
                    .data(
                        days.iter()
                            .enumerate()
                            .map(|(i, d)| (i as i32, d.completed_bytes as f64 / size)),
                    ),
            )
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    let alt = Alt {
        title: "Data copied per day",
        desc: per_day_desc(days, |d| human_bytes(d.completed_bytes)),
    };
    Ok(accessible(inline_svg(svg), "chart-bytes", &alt, ""))
}

/// `12`, `1.5`, `0.25`: axis numbers without trailing zeros.
fn trim_number(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn failure_rate(days: &[Day]) -> std::io::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let n = days.len() as i32;
        let points: Vec<(SegmentValue<i32>, f64)> = days
            .iter()
            .enumerate()
            .filter(|(_, d)| d.finished() > 0)
            .map(|(i, d)| {
                let failed = d.count("FAILED") + d.count("PARTIAL");
                (
                    SegmentValue::CenterOf(i as i32),
                    100.0 * failed as f64 / d.finished() as f64,
                )
            })
            .collect();
        let top = points.iter().map(|p| p.1).fold(0.0, f64::max);
        let top = if top > 50.0 {
            100.0
        } else {
            nice_ceiling(top.ceil() as i64).max(5) as f64
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(34)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .axis_style(GRID)
            .label_style(label_font())
            .x_labels(days.len().min(40))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => day_label(days, *i),
                _ => String::new(),
            })
            .y_labels(6)
            .y_label_formatter(&|v| format!("{}%", trim_number(*v)))
            .draw()
            .map_err(svg_error)?;
        // A line joins consecutive days only: a day without finished copies
        // is a gap, not a slope.
        let mut runs: Vec<Vec<(SegmentValue<i32>, f64)>> = Vec::new();
        let mut previous = None;
        for point in &points {
            let day = segment_index(&point.0);
            match runs.last_mut() {
                Some(run) if previous == Some(day - 1) => run.push(point.clone()),
                _ => runs.push(vec![point.clone()]),
            }
            previous = Some(day);
        }
        for run in runs.into_iter().filter(|r| r.len() > 1) {
            chart
                .draw_series(LineSeries::new(run, RED.stroke_width(2)))
                .map_err(svg_error)?;
        }
        chart
            .draw_series(
                points
                    .iter()
                    .map(|(x, y)| Circle::new((x.clone(), *y), 4, RED.filled())),
            )
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    let alt = Alt {
        title: "Failure rate per day",
        desc: per_day_desc(days, |d| match d.finished() {
            0 => "no finished copy".to_owned(),
            n => format!(
                "{:.1}% ({} of {n})",
                100.0 * d.count("FAILED") as f64 / n as f64,
                d.count("FAILED")
            ),
        }),
    };
    Ok(accessible(inline_svg(svg), "chart-failure-rate", &alt, ""))
}

fn duration_histogram(bins: &[HistogramBin]) -> std::io::Result<String> {
    let upper = bins.last().map_or(1.0, |b| b.upper_seconds);
    // Ticks in a unit that gives round numbers for this range.
    let (unit, size) = if upper < 180.0 {
        ("s", 1.0)
    } else if upper < 3.0 * 3600.0 {
        ("min", 60.0)
    } else {
        ("h", 3600.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let top = bins.iter().map(|b| b.copies).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(34)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..upper / size, 0i64..nice_ceiling(top))
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .axis_style(GRID)
            .label_style(label_font())
            .x_labels(8)
            .x_label_formatter(&|v| format!("{} {unit}", trim_number(*v)))
            .y_labels(6)
            .y_label_formatter(&|v| v.to_string())
            .draw()
            .map_err(svg_error)?;
        chart
            .draw_series(bins.iter().filter(|b| b.copies > 0).map(|b| {
                let mut bar = Rectangle::new(
                    [
                        (b.lower_seconds / size, 0),
                        (b.upper_seconds / size, b.copies),
                    ],
                    PURPLE.filled(),
                );
                bar.set_margin(0, 0, 1, 1);
                bar
            }))
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    let bars: Vec<String> = bins
        .iter()
        .filter(|b| b.copies > 0)
        .map(|b| {
            format!(
                "{} to {} {unit}: {}",
                trim_number(b.lower_seconds / size),
                trim_number(b.upper_seconds / size),
                b.copies
            )
        })
        .collect();
    let alt = Alt {
        title: "How long completed copies took",
        desc: format!("Completed copies by duration. {}.", bars.join("; ")),
    };
    Ok(accessible(inline_svg(svg), "chart-durations", &alt, ""))
}

/// The days' values in words, for a chart's description: every day when
/// there are few, else the first and last weeks.
fn per_day_desc(days: &[Day], value: impl Fn(&Day) -> String) -> String {
    let line = |d: &Day| format!("{}: {}", d.label, value(d));
    let mut parts: Vec<String> = Vec::new();
    if days.len() <= 31 {
        parts.extend(days.iter().map(line));
    } else {
        parts.extend(days[..7].iter().map(line));
        parts.push(format!("… {} more days …", days.len() - 14));
        parts.extend(days[days.len() - 7..].iter().map(line));
    }
    match (days.first(), days.last()) {
        (Some(first), Some(last)) => format!(
            "UTC days from {} to {}. {}.",
            first.label,
            last.label,
            parts.join("; ")
        ),
        _ => String::new(),
    }
}

/// The rows with most failures as a table with a bar per row: the labels
/// are shown in full (wrapped), so that two long messages that differ only
/// at their end are never cut to the same text.
fn top_table(rows: &[CountRow], heading: &str, color: &str) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">No failures. ✓</p>".to_owned();
    }
    let top = rows.iter().map(|r| r.failures).max().unwrap_or(1).max(1);
    let mut out = format!(
        "<table class=\"top\"><thead><tr><th>{}</th><th class=\"n\">Failures</th>\
         <th class=\"barcell\"><span class=\"sr\">Share of the largest</span></th></tr></thead><tbody>",
        esc(heading)
    );
    for row in rows {
        let _ = write!(
            out,
            "<tr><td class=\"wrap\">{}</td><td class=\"n\">{}</td><td class=\"barcell\">\
             <span class=\"bar {color}\" style=\"width:{:.0}%\"></span></td></tr>",
            esc(&row.label),
            row.failures,
            100.0 * row.failures as f64 / top as f64
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn states_legend() -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for (state, color, pattern) in STATES {
        let _ = write!(
            out,
            "<li><span style=\"background:{}\"></span>{}{}</li>",
            css_pattern(pattern, color),
            state.to_ascii_lowercase(),
            if pattern.is_empty() {
                String::new()
            } else {
                format!(" ({pattern})")
            }
        );
    }
    out.push_str("</ul>");
    out
}

fn figure(page: &mut String, title: &str, note: &str, body: String, legend: &str) {
    let _ = write!(
        page,
        "<figure><figcaption><h2>{}</h2><p>{}</p></figcaption>{legend}{body}</figure>",
        esc(title),
        esc(note)
    );
}

fn tiles(page: &mut String, data: &PageData) {
    let jobs: i64 = data.summary.iter().map(|r| r.jobs).sum();
    let in_state = |state: &str| {
        data.summary
            .iter()
            .filter(|r| r.state.as_deref() == Some(state))
            .map(|r| (r.jobs, r.bytes.0))
            .fold((0i64, 0i128), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    let (completed, completed_bytes) = in_state("COMPLETED");
    // Non-parent jobs: PARTIAL is a parent's state and cannot occur here.
    let failed = in_state("FAILED").0;
    let finished = completed + failed;
    let rate = if finished > 0 {
        format!("{:.1}%", 100.0 * failed as f64 / finished as f64)
    } else {
        "–".to_owned()
    };
    let never = data
        .stale
        .iter()
        .filter(|r| r.last_completed_at.is_none())
        .count();
    let tile = |page: &mut String, class: &str, value: String, label: &str| {
        let _ = write!(
            page,
            "<div class=\"tile {class}\"><strong>{}</strong><span>{}</span></div>",
            esc(&value),
            esc(label)
        );
    };
    page.push_str("<section class=\"tiles\">");
    tile(page, "", jobs.to_string(), "copy jobs");
    tile(page, "ok", completed.to_string(), "completed");
    tile(
        page,
        if failed > 0 { "bad" } else { "" },
        failed.to_string(),
        "failed",
    );
    tile(
        page,
        if failed > 0 { "bad" } else { "" },
        rate,
        "failure rate",
    );
    tile(page, "", human_bytes(completed_bytes), "copied");
    tile(
        page,
        if data.stale.is_empty() { "ok" } else { "warn" },
        data.stale.len().to_string(),
        &format!(
            "resources without a completed copy in {} ({never} never)",
            data.older_than
        ),
    );
    if let Some(coverage) = &data.coverage {
        let stale = coverage.iter().filter(|c| c.stale).count();
        tile(
            page,
            if stale == 0 { "ok" } else { "warn" },
            format!("{stale} of {}", coverage.len()),
            &format!("targets not covered in the last {}", data.stale_after),
        );
    }
    page.push_str("</section>");
}

/// The coverage ledger: through when each target's record is complete, and
/// how its last run went; stale targets first, marked in words.
fn coverage_table(page: &mut String, data: &PageData) {
    let _ = write!(
        page,
        "<section id=\"coverage\"><h2>Coverage and freshness</h2><p class=\"note\">Every copy job \
         of a target up to <em>covered through</em> is recorded. A target is <strong>stale</strong> \
         when that is more than {} ago or never.</p>",
        esc(&data.stale_after)
    );
    let Some(rows) = &data.coverage else {
        page.push_str(
            "<p class=\"empty\">This database has no coverage ledger yet: run \
             <code>backup-audit migrate</code>, then <code>ingest</code>.</p></section>",
        );
        return;
    };
    if rows.is_empty() {
        page.push_str(
            "<p class=\"empty\">No target has been ingested yet (imports are not listings, \
             so they cover nothing).</p></section>",
        );
        return;
    }
    page.push_str(
        "<table><thead><tr><th>Account</th><th>Region</th><th>Covered through</th>\
         <th>Freshness</th><th>Last run</th><th>Last run status</th><th>Last error</th>\
         </tr></thead><tbody>",
    );
    for row in rows {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"msg\">{}</td></tr>",
            esc(&row.account_id),
            esc(&row.region),
            row.covered_through
                .map_or_else(|| "<span class=\"bad\">never</span>".to_owned(), when),
            if row.stale {
                "<span class=\"pill stale\">⚠ stale</span>"
            } else {
                "<span class=\"pill fresh\">✓ fresh</span>"
            },
            row.last_run_at.map_or_else(|| "–".to_owned(), when),
            esc(row.last_run_status.as_deref().unwrap_or("–")),
            esc(row.last_error.as_deref().unwrap_or("")),
        );
    }
    page.push_str("</tbody></table></section>");
}

/// Failures by source account, most first.
fn accounts_table(page: &mut String, accounts: &[AccountRow]) {
    page.push_str("<section><h2>Failures by account</h2>");
    if accounts.is_empty() {
        page.push_str("<p class=\"empty\">No copy jobs in this period.</p></section>");
        return;
    }
    // Composite jobs are rare: their column is shown only when one failed.
    let composites = accounts.iter().any(|a| a.failed_parents > 0);
    let _ = write!(
        page,
        "<table><thead><tr><th>Account</th><th class=\"n\">Regions</th><th class=\"n\">Jobs</th>\
         <th class=\"n\">Completed</th><th class=\"n\">Failed</th><th class=\"n\">Failure rate</th>\
         <th class=\"n\">Open</th>{}<th class=\"n\">Copied</th><th>Last completed copy</th>\
         </tr></thead><tbody>",
        if composites {
            "<th class=\"n\">Failed or partial composites</th>"
        } else {
            ""
        }
    );
    for a in accounts.iter().take(TABLE_ROWS) {
        let parents = if composites {
            format!("<td class=\"n\">{}</td>", a.failed_parents)
        } else {
            String::new()
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n{}\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             {parents}<td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&a.account_id),
            a.regions,
            a.jobs,
            a.completed,
            if a.failed > 0 { " bad" } else { "" },
            a.failed,
            a.failure_percent
                .map_or_else(|| "–".to_owned(), |p| format!("{p:.1}%")),
            a.open,
            human_bytes(a.completed_bytes.0),
            a.last_completed_at.map_or_else(|| "–".to_owned(), when),
        );
    }
    page.push_str("</tbody></table>");
    more(page, accounts.len(), "backup-audit report accounts");
    page.push_str("</section>");
}

fn stale_table(page: &mut String, data: &PageData) {
    let _ = write!(
        page,
        "<section><h2>Resources without a completed copy in {}</h2>",
        esc(&data.older_than)
    );
    if data.stale.is_empty() {
        page.push_str(
            "<p class=\"empty\">Every resource has a recent completed copy. ✓</p></section>",
        );
        return;
    }
    page.push_str(
        "<table><thead><tr><th>Resource</th><th>Type</th><th>Account</th><th>Region</th>\
         <th>Last completed copy</th><th>Last attempt</th><th class=\"n\">Failed</th>\
         <th class=\"n\">Copies</th></tr></thead><tbody>",
    );
    for row in data.stale.iter().take(TABLE_ROWS) {
        let _ = write!(
            page,
            "<tr><td class=\"wrap\" title=\"{arn}\">{name}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{} {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(row.resource_type.as_deref().unwrap_or("–")),
            esc(&row.account_id),
            esc(&row.region),
            row.last_completed_at
                .map_or_else(|| "<span class=\"bad\">never</span>".to_owned(), when),
            row.last_attempt_at.map_or_else(|| "–".to_owned(), when),
            esc(row.last_attempt_state.as_deref().unwrap_or("")),
            row.failed_copies,
            row.copies,
            arn = esc(&row.resource_arn),
            name = esc(row.resource_name.as_deref().unwrap_or(&row.resource_arn)),
        );
    }
    page.push_str("</tbody></table>");
    more(page, data.stale.len(), "backup-audit report stale");
    page.push_str("</section>");
}

/// Destination vaults, most failures first (then most jobs).
fn vaults_table(page: &mut String, vaults: &[VaultRow]) {
    page.push_str("<section><h2>Destination vaults, by failures</h2>");
    let mut vaults: Vec<&VaultRow> = vaults.iter().collect();
    vaults.sort_by(|a, b| {
        (b.failed, b.jobs).cmp(&(a.failed, a.jobs)).then_with(|| {
            a.destination_backup_vault_arn
                .cmp(&b.destination_backup_vault_arn)
        })
    });
    if vaults.is_empty() {
        page.push_str("<p class=\"empty\">No copy jobs in this period.</p></section>");
        return;
    }
    page.push_str(
        "<table><thead><tr><th>Vault</th><th>Account</th><th>Region</th><th class=\"n\">Jobs</th>\
         <th class=\"n\">Completed</th><th class=\"n\">Failed</th>\
         <th class=\"n\">Resources</th><th class=\"n\">Copied</th><th>Last completed copy</th>\
         </tr></thead><tbody>",
    );
    for v in vaults.iter().take(TABLE_ROWS) {
        let arn = v
            .destination_backup_vault_arn
            .as_deref()
            .unwrap_or("(none)");
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let _ = write!(
            page,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n{}\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(arn),
            esc(name),
            esc(v.destination_account_id.as_deref().unwrap_or("–")),
            esc(v.destination_region.as_deref().unwrap_or("–")),
            v.jobs,
            v.completed,
            if v.failed > 0 { " bad" } else { "" },
            v.failed,
            v.resources,
            human_bytes(v.completed_bytes.0),
            v.last_completed_at.map_or_else(|| "–".to_owned(), when),
        );
    }
    page.push_str("</tbody></table>");
    more(page, vaults.len(), "backup-audit report vaults");
    page.push_str("</section>");
}

fn failures_table(page: &mut String, failures: &[FailureRow], total: i64) {
    page.push_str("<section><h2>Latest failures</h2>");
    if failures.is_empty() {
        page.push_str(
            "<p class=\"empty\">No failed or partial copy in this period. ✓</p></section>",
        );
        return;
    }
    page.push_str(
        "<table><thead><tr><th>Created</th><th>State</th><th>Resource</th><th>Account</th>\
         <th>Region</th><th>Category</th><th>Message</th><th>Copy job</th></tr></thead><tbody>",
    );
    for f in failures.iter().take(TABLE_ROWS) {
        let resource = f
            .resource_name
            .as_deref()
            .or(f.resource_arn.as_deref())
            .unwrap_or("–");
        let _ = write!(
            page,
            "<tr><td>{}</td><td><span class=\"pill {}\">{}</span></td><td class=\"wrap\" title=\"{}\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"msg\">{}</td><td class=\"id\">{}</td></tr>",
            f.creation_date.map_or_else(|| "–".to_owned(), when),
            esc(&f.state.to_ascii_lowercase()),
            esc(&f.state),
            esc(f.resource_arn.as_deref().unwrap_or("")),
            esc(resource),
            esc(&f.account_id),
            esc(&f.region),
            esc(f.message_category.as_deref().unwrap_or("–")),
            esc(f.status_message.as_deref().unwrap_or("–")),
            esc(&f.copy_job_id),
        );
    }
    page.push_str("</tbody></table>");
    more(
        page,
        usize::try_from(total).unwrap_or(usize::MAX),
        "backup-audit report failures",
    );
    page.push_str("</section>");
}

fn more(page: &mut String, total: usize, command: &str) {
    if total > TABLE_ROWS {
        let _ = write!(
            page,
            "<p class=\"more\">{TABLE_ROWS} of {total} shown; <code>{}</code> lists them all.</p>",
            esc(command)
        );
    }
}

/// An instant for people, to the minute (UTC); the exact one on hover.
fn when(t: Time) -> String {
    let full = t.to_string();
    format!(
        "<span title=\"{full}\">{} {}</span>",
        &full[..10],
        &full[11..16]
    )
}

fn describe_filter(filter: &ReportFilter) -> String {
    let mut parts = Vec::new();
    parts.push(match &filter.account_id {
        Some(a) => format!("Account {a}"),
        None => "All accounts".to_owned(),
    });
    parts.push(match &filter.region {
        Some(r) => format!("region {r}"),
        None => "all regions".to_owned(),
    });
    parts.push(match (filter.since, filter.until) {
        (None, None) => "all time".to_owned(),
        (Some(s), None) => format!("jobs created since {s}"),
        (None, Some(u)) => format!("jobs created before {u}"),
        (Some(s), Some(u)) => format!("jobs created from {s} to {u}"),
    });
    parts.join(" · ")
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AWS Backup copy jobs report</title>
<style>
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --ok:#2e9d5b; --bad:#d64545; --warn:#d08a1e; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1500px; margin:0 auto; padding:28px 32px 40px; }
header h1 { margin:0; font-size:26px; font-weight:650; letter-spacing:-0.01em; }
header p { margin:4px 0 0; color:var(--muted); }
header .scope { color:var(--ink); font-weight:500; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit, minmax(150px, 1fr)); gap:14px; margin:22px 0; }
.tile { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.tile strong { display:block; font-size:26px; font-weight:650; font-variant-numeric:tabular-nums; }
.tile span { color:var(--muted); font-size:13px; }
.tile.ok strong { color:var(--ok); } .tile.bad strong { color:var(--bad); } .tile.warn strong { color:var(--warn); }
.grid { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:18px; }
figure { margin:0; background:#fff; border:1px solid var(--line); border-radius:10px; padding:16px 18px 10px; }
figcaption h2, section > h2 { margin:0; font-size:16px; font-weight:620; }
figcaption p { margin:2px 0 8px; color:var(--muted); font-size:13px; }
figure svg { display:block; width:100%; height:auto; }
.legend { list-style:none; margin:0 0 4px; padding:0; display:flex; gap:16px; color:var(--muted); font-size:13px; }
.legend span { display:inline-block; width:11px; height:11px; border-radius:2px; margin-right:6px; vertical-align:-1px; }
.empty { color:var(--muted); padding:24px 0; margin:0; }
section { margin-top:22px; }
section > h2 { margin-bottom:10px; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); border-radius:10px; overflow:hidden; font-size:13px; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; white-space:nowrap; }
td.wrap { white-space:normal; overflow-wrap:anywhere; }
th { background:#fafafa; color:var(--muted); font-weight:600; }
tr:last-child td { border-bottom:0; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
td.msg { max-width:420px; white-space:normal; } td.id { font-family:ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:12px; color:var(--muted); }
td.bad, td .bad { color:var(--bad); font-weight:600; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
.pill.failed { background:#fde8e8; color:var(--bad); } .pill.partial { background:#fdf1dc; color:#9a5b00; }
.pill.stale { background:#fdf1dc; color:#9a5b00; } .pill.fresh { background:#e3f4ea; color:#1d6b3e; }
.note { color:var(--muted); margin:0 0 8px; }
table.top td.barcell, table.top th.barcell { width:30%; }
.bar { display:block; height:12px; border-radius:2px; min-width:2px; }
.bar.red { background:repeating-linear-gradient(45deg,#d64545 0 3px,#e98b8b 3px 4.5px); } .bar.purple { background:#7c5cc4; }
.sr { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
.more { color:var(--muted); margin:8px 0 0; }
code { font-family:ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:12px; background:#eef0f3; padding:1px 5px; border-radius:4px; }
footer { margin-top:28px; color:var(--muted); font-size:12px; max-width:900px; }
@media (max-width:1000px) { .grid { grid-template-columns:1fr; } .tiles { grid-template-columns:repeat(3, 1fr); } }
</style></head><body><main>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Bytes;

    #[test]
    fn axis_helpers() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(500), 500);
        assert_eq!(byte_unit(3 * 1_073_741_824).0, "GiB");
        assert_eq!(byte_unit(10).0, "B");
        assert_eq!(trim_number(2.50), "2.5");
        assert_eq!(trim_number(40.0), "40");
        assert_eq!(describe_age(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(describe_age(Duration::from_secs(3600)), "1 hour");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn charts_are_images_with_a_text_alternative() {
        let svg = "<svg width=\"10\" height=\"10\"><rect/></svg>".to_owned();
        let alt = Alt {
            title: "Copies",
            desc: "2026-03-01: 1 <b>".into(),
        };
        assert_eq!(
            accessible(svg, "c", &alt, "<defs></defs>"),
            "<svg width=\"10\" height=\"10\" role=\"img\" aria-labelledby=\"c-title c-desc\">\
             <title id=\"c-title\">Copies</title><desc id=\"c-desc\">2026-03-01: 1 &lt;b&gt;</desc>\
             <defs></defs><rect/></svg>"
        );
        assert!(svg_pattern("hatched", RED).contains("id=\"state-hatched\""));
    }

    #[test]
    fn top_tables_show_labels_whole() {
        let prefix = "The destination vault's access policy does not allow copies: ";
        let rows = [
            CountRow {
                label: format!("{prefix}dr-0"),
                failures: 4,
            },
            CountRow {
                label: format!("{prefix}dr-9"),
                failures: 2,
            },
        ];
        let table = top_table(&rows, "Message", "purple");
        assert!(table.contains(&esc(&rows[0].label)) && table.contains(&esc(&rows[1].label)));
        assert!(table.contains("width:100%") && table.contains("width:50%"));
    }

    #[test]
    fn days_without_copies_are_filled_in() {
        let row = |day: &str, completed| DailyRow {
            day: day.to_owned(),
            account_id: "1".into(),
            region: "r".into(),
            destination_backup_vault_arn: None,
            jobs: completed,
            created: 0,
            running: 0,
            completed,
            failed: 0,
            bytes: Bytes(0),
            completed_bytes: Bytes(10),
            median_seconds: None,
            p95_seconds: None,
        };
        let days = per_day(&[
            row("2026-02-27", 2),
            row("2026-03-02", 3),
            row("2026-03-02", 1),
        ]);
        let labels: Vec<&str> = days.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(
            labels,
            ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!(days[3].count("COMPLETED"), 4);
        assert_eq!(days[3].completed_bytes, 20);
        assert_eq!(days[1].total(), 0);
    }
}
