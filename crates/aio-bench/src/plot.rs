//! The chart of a sweep (`--depths … --plot FILE.svg`): IOPS and p99 latency against queue
//! depth, as an SVG drawn with `plotters`.
//!
//! The x axis is log2 of the depth (depths are usually powers of two, and each doubling gets
//! the same room), with a tick at each depth that ran; IOPS is on the left axis, linear from 0;
//! the p99 latency is on the right axis, logarithmic with ticks at 1, 2 and 5 times a power of
//! ten (`100 µs`, `200 µs`, `500 µs`, `1 ms`): from depth 1 to 256 it spans two or three orders
//! of magnitude, and past saturation it doubles with each doubling of the depth, a straight
//! line on these axes. The SVG names a font family and lets the viewer lay out the text: the text sizes below are
//! chosen so that labels fit with a wide sans-serif font (DejaVu Sans).

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One depth of a sweep, as charted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Operations in flight.
    pub depth: u32,
    /// Operations per second.
    pub iops: f64,
    /// The 99th percentile of latency, microseconds.
    pub p99_us: f64,
}

/// The chart's size in pixels.
pub const SIZE: (u32, u32) = (900, 540);

const IOPS_COLOR: RGBColor = RGBColor(31, 119, 180);
const LATENCY_COLOR: RGBColor = RGBColor(214, 39, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);
const TEXT: RGBColor = RGBColor(40, 40, 40);
const FONT: &str = "sans-serif";

/// `12345.0` → `12k`, `1234567.0` → `1.2M`: short axis labels for IOPS.
pub fn short_count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim_zero(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        trim_zero(format!("{:.1}", v / 1e3)) + "k"
    } else {
        format!("{v:.0}")
    }
}

/// A latency axis label, `us` microseconds in the unit that suits it: `500 µs`, `1 ms`,
/// `20 ms`, `2 s`.
pub fn latency_label(us: f64) -> String {
    let (v, unit) = if us >= 1e6 {
        (us / 1e6, "s")
    } else if us >= 1e3 {
        (us / 1e3, "ms")
    } else {
        (us, "µs")
    };
    // Three significant digits at most, and no trailing zeros: 0.5, 2, 20, 500, 1.25.
    let text = format!("{v:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// The latency ticks for values from `lo` to `hi` µs: 1, 2 and 5 times powers of ten, from
/// the largest at or below `lo` to the smallest at or above `hi` (only the powers of ten when
/// that would be more than 12 ticks).
fn latency_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let all: Vec<f64> = (-3..=9)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .collect();
    let first = all.iter().rposition(|&t| t <= lo).unwrap_or(0);
    let last = all.iter().position(|&t| t >= hi).unwrap_or(all.len() - 1);
    let ticks = &all[first..=last.max(first)];
    if ticks.len() > 12 {
        ticks
            .iter()
            .copied()
            .filter(|t| (t.log10() - t.log10().round()).abs() < 1e-9)
            .collect()
    } else {
        ticks.to_vec()
    }
}

fn trim_zero(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A linear f64 axis with ticks (and grid lines) exactly at `ticks`: plotters' own f64 axis
/// picks evenly spaced ticks, and its `with_key_points` wrapper loses the label formatter.
#[derive(Clone, Debug)]
struct Ticked {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // No light (minor) points: only the ticks.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// A value range from 0 to a little above `max`, so that the highest point is not on the frame.
fn headroom(max: f64) -> std::ops::Range<f64> {
    let top = if max.is_finite() && max > 0.0 {
        max * 1.1
    } else {
        1.0
    };
    0.0..top
}

/// The SVG text of the chart of `points`, with `title` above and `subtitle` under it.
///
/// An error if there is nothing to draw (no point).
pub fn svg(title: &str, subtitle: &str, points: &[Point]) -> Result<String, String> {
    if points.is_empty() {
        return Err("no depth to chart".into());
    }
    let mut points = points.to_vec();
    points.sort_by_key(|p| p.depth);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, title, subtitle, &points).map_err(|e| format!("cannot draw the chart: {e}"))?;
        root.present()
            .map_err(|e| format!("cannot draw the chart: {e}"))?;
    }
    Ok(out)
}

type DrawResult =
    Result<(), DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>>;

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    subtitle: &str,
    points: &[Point],
) -> DrawResult {
    root.fill(&WHITE)?;
    let (header, body) = root.split_vertically(96);
    let centre = SIZE.0 as i32 / 2;
    header.draw(&Text::new(
        title.to_string(),
        (centre, 14),
        (FONT, 22)
            .into_font()
            .style(FontStyle::Bold)
            .color(&TEXT)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    header.draw(&Text::new(
        subtitle.to_string(),
        (centre, 42),
        (FONT, 15)
            .into_font()
            .color(&TEXT)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;

    // The legend, under the subtitle (inside the plot it would cover points): a line and its
    // name per series, the pair centred for a text width of about 8.5 px per character.
    let legend = [
        (IOPS_COLOR, "IOPS (left axis)"),
        (LATENCY_COLOR, "p99 latency (right axis)"),
    ];
    let (line, gap, between) = (28, 8, 40);
    let width = |text: &str| (text.chars().count() as f64 * 8.5).round() as i32;
    let total: i32 = legend
        .iter()
        .map(|(_, text)| line + gap + width(text))
        .sum::<i32>()
        + between * (legend.len() as i32 - 1);
    let mut x = centre - total / 2;
    for (color, text) in legend {
        let y = 80;
        header.draw(&PathElement::new(
            vec![(x, y), (x + line, y)],
            color.stroke_width(3),
        ))?;
        header.draw(&Circle::new((x + line / 2, y), 4, color.filled()))?;
        header.draw(&Text::new(
            text,
            (x + line + gap, y),
            (FONT, 15)
                .into_font()
                .color(&TEXT)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += line + gap + width(text) + between;
    }

    let log2 = |d: u32| f64::from(d).log2();
    let (lo, hi) = (log2(points[0].depth), log2(points[points.len() - 1].depth));
    let x_range = (lo - 0.3)..(hi + 0.3);
    let mut x_ticks: Vec<f64> = points.iter().map(|p| log2(p.depth)).collect();
    x_ticks.dedup();
    let iops_max = points.iter().map(|p| p.iops).fold(0.0, f64::max);
    // Latencies under 1 ns (none in practice) are drawn at 1 ns.
    let lat = |us: f64| us.max(1e-3).log10();
    let us_lo = points
        .iter()
        .map(|p| p.p99_us.max(1e-3))
        .fold(f64::MAX, f64::min);
    let us_hi = points
        .iter()
        .map(|p| p.p99_us.max(1e-3))
        .fold(0.0, f64::max);
    let lat_ticks: Vec<f64> = latency_ticks(us_lo, us_hi)
        .iter()
        .map(|&t| lat(t))
        .collect();
    let (lat_lo, lat_hi) = (
        lat_ticks.first().copied().unwrap_or(lat(us_lo)),
        lat_ticks.last().copied().unwrap_or(lat(us_hi)),
    );
    let lat_range = (lat_lo - 0.04)..(lat_hi.max(lat_lo + 0.3) + 0.04);

    let mut chart = ChartBuilder::on(&body)
        .margin_left(16)
        .margin_right(16)
        .margin_bottom(12)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(68)
        .right_y_label_area_size(84)
        .build_cartesian_2d(
            Ticked {
                range: x_range.clone(),
                ticks: x_ticks.clone(),
            },
            headroom(iops_max),
        )?
        .set_secondary_coord(
            Ticked {
                range: x_range,
                ticks: x_ticks,
            },
            Ticked {
                range: lat_range,
                ticks: lat_ticks,
            },
        );

    let label_font = (FONT, 15).into_font().color(&TEXT);
    let desc_font = (FONT, 16).into_font().color(&TEXT);
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .y_labels(8)
        .y_label_formatter(&|v| short_count(*v))
        .x_desc("queue depth (operations in flight, log2 scale)")
        .y_desc("IOPS")
        .label_style(label_font.clone())
        .axis_desc_style(desc_font.clone())
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(TEXT)
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_label_formatter(&|v| latency_label(10f64.powf(*v)))
        .y_desc("p99 latency (log scale)")
        .label_style(label_font)
        .axis_desc_style(desc_font.clone())
        .axis_style(TEXT)
        .draw()?;

    let iops_line = IOPS_COLOR.stroke_width(3);
    chart.draw_series(LineSeries::new(
        points.iter().map(|p| (log2(p.depth), p.iops)),
        iops_line,
    ))?;
    let latency_line = LATENCY_COLOR.stroke_width(3);
    chart.draw_secondary_series(LineSeries::new(
        points.iter().map(|p| (log2(p.depth), lat(p.p99_us))),
        latency_line,
    ))?;
    chart.draw_series(
        points
            .iter()
            .map(|p| Circle::new((log2(p.depth), p.iops), 4, IOPS_COLOR.filled())),
    )?;
    chart.draw_secondary_series(
        points
            .iter()
            .map(|p| Circle::new((log2(p.depth), lat(p.p99_us)), 4, LATENCY_COLOR.filled())),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(short_count(0.0), "0");
        assert_eq!(short_count(950.0), "950");
        assert_eq!(short_count(1500.0), "1.5k");
        assert_eq!(short_count(2000.0), "2k");
        assert_eq!(short_count(75_000.0), "75k");
        assert_eq!(short_count(1_200_000.0), "1.2M");
        assert_eq!(short_count(1_000_000.0), "1M");
        assert_eq!(latency_label(0.5), "0.5 µs");
        assert_eq!(latency_label(20.0), "20 µs");
        assert_eq!(latency_label(500.0), "500 µs");
        assert_eq!(latency_label(1000.0), "1 ms");
        assert_eq!(latency_label(1250.0), "1.25 ms");
        assert_eq!(latency_label(20_000.0), "20 ms");
        assert_eq!(latency_label(2e6), "2 s");
        assert_eq!(
            latency_ticks(7.0, 950.0),
            [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert_eq!(latency_ticks(100.0, 100.0), [100.0]);
        assert_eq!(
            latency_ticks(1.0, 1e6),
            [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
    }

    #[test]
    fn the_chart_names_its_axes_and_series() {
        let points: Vec<Point> = [1u32, 2, 4, 8, 16, 32, 64, 128, 256]
            .iter()
            .map(|&d| Point {
                depth: d,
                iops: 10_000.0 * f64::from(d).sqrt(),
                p99_us: 50.0 + 3.0 * f64::from(d),
            })
            .collect();
        let svg = svg("IOPS and p99 latency", "randread 4 KiB on tmpfs", &points).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        // plotters writes each text on a line of its own.
        let texts: Vec<&str> = svg.lines().filter(|l| !l.starts_with('<')).collect();
        for text in [
            "IOPS and p99 latency",
            "randread 4 KiB on tmpfs",
            "queue depth (operations in flight, log2 scale)",
            "IOPS",
            "p99 latency (log scale)",
            "IOPS (left axis)",
            "p99 latency (right axis)",
            "1",
            "256",
            "150k",
            "50 µs",
            "1 ms",
        ] {
            assert!(texts.contains(&text), "{text:?} missing from {texts:?}");
        }
        assert!(!texts.contains(&""), "no empty labels: {texts:?}");
        assert!(svg.len() < 64 * 1024, "{} bytes", svg.len());
        // One point, and points out of order, are drawn too; none is an error.
        assert!(svg_ok(&points[3..4]));
        let mut shuffled = points.clone();
        shuffled.reverse();
        assert!(svg_ok(&shuffled));
        assert!(super::svg("t", "s", &[]).is_err());
        let zero = [Point {
            depth: 1,
            iops: 0.0,
            p99_us: 0.0,
        }];
        assert!(svg_ok(&zero));
    }

    fn svg_ok(points: &[Point]) -> bool {
        svg("t", "s", points).is_ok()
    }
}
