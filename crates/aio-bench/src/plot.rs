//! The chart of a sweep (`--depths … --plot FILE.svg`): IOPS and p99 latency against queue
//! depth, as an SVG drawn with `plotters`.
//!
//! The x axis is log2 of the depth (depths are usually powers of two, and each doubling gets
//! the same room); IOPS is on the left axis, the p99 latency in microseconds on the right one.
//! The SVG names a font family and lets the viewer lay out the text: the text sizes below are
//! chosen so that labels fit with a wide sans-serif font (DejaVu Sans).

use plotters::coord::Shift;
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

/// A latency axis label in microseconds: `0.25`, `0.5`, `8`, `1024`.
fn short_us(v: f64) -> String {
    if v < 1.0 && v > 0.0 {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    } else {
        format!("{v:.0}")
    }
}

/// `2^x` where `x` is a whole number (a log2 axis position worth a label).
fn power_of_two(x: f64) -> Option<f64> {
    ((x - x.round()).abs() < 1e-9).then(|| 2f64.powi(x.round() as i32))
}

fn trim_zero(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
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
    let iops_max = points.iter().map(|p| p.iops).fold(0.0, f64::max);
    // The latency axis is log2 too: from depth 1 to 256 the p99 spans two or three orders of
    // magnitude, and past saturation it doubles with each doubling of the depth (a straight
    // line here). Latencies under 1/8 µs (none in practice) are drawn at 1/8 µs.
    let lat = |us: f64| us.max(0.125).log2();
    let lat_lo = points
        .iter()
        .map(|p| lat(p.p99_us))
        .fold(f64::MAX, f64::min);
    let lat_hi = points
        .iter()
        .map(|p| lat(p.p99_us))
        .fold(f64::MIN, f64::max);
    let lat_range = (lat_lo.floor() - 0.25)..(lat_hi.ceil() + 0.25);
    // As many labels as powers of two in the range: plotters then steps by one (or more).
    let lat_labels = (lat_hi.ceil() - lat_lo.floor()) as usize + 1;

    let mut chart = ChartBuilder::on(&body)
        .margin_left(16)
        .margin_right(16)
        .margin_bottom(12)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(68)
        .right_y_label_area_size(72)
        .build_cartesian_2d(x_range.clone(), headroom(iops_max))?
        .set_secondary_coord(x_range, lat_range);

    let label_font = (FONT, 15).into_font().color(&TEXT);
    let desc_font = (FONT, 16).into_font().color(&TEXT);
    // One x label per power of two in the range: log2 positions with integer values.
    let first = lo.ceil() as i32;
    let last = hi.floor() as i32;
    let x_labels = usize::try_from(last - first + 1).unwrap_or(1).max(2);
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_label_formatter(&|x| power_of_two(*x).map_or(String::new(), |d| format!("{d}")))
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
        .y_labels(lat_labels)
        .y_label_formatter(&|v| power_of_two(*v).map_or(String::new(), short_us))
        .y_desc("p99 latency (µs, log2 scale)")
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
        assert_eq!(short_us(0.125), "0.125");
        assert_eq!(short_us(0.5), "0.5");
        assert_eq!(short_us(8.0), "8");
        assert_eq!(short_us(1024.0), "1024");
        assert_eq!(power_of_two(3.0), Some(8.0));
        assert_eq!(power_of_two(-1.0), Some(0.5));
        assert_eq!(power_of_two(2.5), None);
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
            "p99 latency (µs, log2 scale)",
            "IOPS (left axis)",
            "p99 latency (right axis)",
            "1",
            "256",
            "150k",
            "1024",
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
