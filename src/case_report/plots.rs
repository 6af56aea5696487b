//! The report's plots as inline SVG (plotters' SVG backend; text stays SVG `<text>`, so no
//! font is loaded and the browser draws the letters). Pure functions of the report model.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::model::{Band, CascadeModel, CaseReport, MuscleReport, TrendPoint};

const BASELINE: RGBColor = RGBColor(0x1f, 0x4e, 0x9a);
const FINAL: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const WINDOW: RGBColor = RGBColor(0xf3, 0xc6, 0x3f);
const DIRECT: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
const MARKER: RGBColor = RGBColor(0x55, 0x33, 0x88);
const FONT: &str = "sans-serif";

/// A plot that could not be drawn (a bug, not bad input: the page says so in its place).
#[derive(Debug, thiserror::Error)]
#[error("plot '{plot}' could not be drawn: {detail}")]
pub struct PlotError {
    pub plot: &'static str,
    pub detail: String,
}

fn err<E: std::fmt::Display>(plot: &'static str) -> impl Fn(E) -> PlotError {
    move |e| PlotError {
        plot,
        detail: e.to_string(),
    }
}

/// The band's colour as CSS, for the legend under the plot.
pub fn band_css(b: Band) -> String {
    let c = band_colour(b);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn band_colour(b: Band) -> RGBColor {
    match b {
        Band::Baseline => RGBColor(0xb0, 0xbe, 0xc5),
        Band::Present => RGBColor(0xe5, 0x73, 0x73),
        Band::Absent => RGBColor(0x64, 0xb5, 0xf6),
        Band::CannotJudge => RGBColor(0x9e, 0x9e, 0x9e),
        Band::NoBaseline => RGBColor(0xce, 0x93, 0xd8),
        Band::Appeared => RGBColor(0xff, 0xb7, 0x4d),
    }
}

/// Time of point `k` of a display trace, ms after the stimulus (middle of its bin).
fn trace_ms(display: [f64; 2], k: usize, n: usize) -> f64 {
    display[0] + (k as f64 + 0.5) * (display[1] - display[0]) / n as f64
}

fn span(values: impl Iterator<Item = f64>, min_half: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-min_half, min_half);
    }
    let mid = 0.5 * (lo + hi);
    let half = (0.5 * (hi - lo) * 1.1).max(min_half);
    (mid - half, mid + half)
}

fn svg(
    w: u32,
    h: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err("background"))?;
        draw(&root)?;
        root.present().map_err(err("svg"))?;
    }
    Ok(out)
}

/// Two averaged sweeps overlaid (baseline and final), a window shaded.
struct Averaged<'a> {
    plot: &'static str,
    title: String,
    size: (u32, u32),
    /// Drawn span, ms after the stimulus (within the traces' display span).
    x: [f64; 2],
    /// The y axis fits what is drawn from this time on (ms).
    scale_from_ms: f64,
    min_half_uv: f64,
    window: [f64; 2],
    window_label: &'static str,
    traces: [(&'static str, RGBColor, Option<&'a Vec<f32>>); 2],
    empty: &'static str,
}

fn averaged(display: [f64; 2], a: Averaged<'_>) -> Result<String, PlotError> {
    let plot = a.plot;
    let [x0, x1] = a.x;
    let traces: Vec<(&str, RGBColor, &Vec<f32>)> = a
        .traces
        .into_iter()
        .filter_map(|(l, c, t)| t.map(|t| (l, c, t)))
        .collect();
    let (y0, y1) = span(
        traces.iter().flat_map(|(_, _, t)| {
            t.iter()
                .enumerate()
                .map(|(k, v)| (trace_ms(display, k, t.len()), *v as f64))
                .filter(|(ms, _)| *ms >= a.scale_from_ms && *ms <= x1)
                .map(|(_, v)| v)
        }),
        a.min_half_uv,
    );
    let (w, h) = a.size;
    svg(w, h, |root| {
        let mut ch = ChartBuilder::on(root)
            .margin(8)
            .caption(&a.title, (FONT, 15))
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err(plot))?;
        ch.configure_mesh()
            .x_desc("ms after the stimulus")
            .y_desc("µV")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 11))
            .light_line_style(WHITE)
            .draw()
            .map_err(err(plot))?;
        let [w0, w1] = a.window;
        ch.draw_series(std::iter::once(Rectangle::new(
            [(w0.max(x0), y0), (w1.min(x1), y1)],
            WINDOW.mix(0.25).filled(),
        )))
        .map_err(err(plot))?
        .label(a.window_label)
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], WINDOW.mix(0.4).filled()));
        for (label, colour, t) in &traces {
            let n = t.len();
            let pts = t
                .iter()
                .enumerate()
                .map(|(k, v)| (trace_ms(display, k, n), (*v as f64).clamp(y0, y1)))
                .filter(|(ms, _)| *ms >= x0 && *ms <= x1);
            let c = *colour;
            ch.draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err(plot))?
                .label(*label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        ch.configure_series_labels()
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err(plot))?;
        if traces.is_empty() {
            root.draw_text(
                a.empty,
                &(FONT, 14).into_text_style(root),
                (w as i32 / 2 - 90, h as i32 / 2),
            )
            .map_err(err(plot))?;
        }
        Ok(())
    })
}

/// Baseline average and final average sweep overlaid, LSR window shaded.
pub fn overlay(r: &CaseReport, m: &MuscleReport) -> Result<String, PlotError> {
    // The stimulus artifact's blank and the direct response's crosstalk sit before the
    // window; scale to what is drawn from 2 ms on so a big early deflection does not
    // flatten the LSR.
    averaged(
        r.display_ms,
        Averaged {
            plot: "overlay",
            title: format!("{}: baseline vs final averaged sweep", m.channel),
            size: (560, 300),
            x: r.display_ms,
            scale_from_ms: 2.0,
            min_half_uv: 20.0,
            window: r.lsr_window_ms,
            window_label: "LSR window",
            traces: [
                ("baseline average", BASELINE, m.baseline_trace.as_ref()),
                ("final average", FINAL, m.final_trace.as_ref()),
            ],
            empty: "no averaged sweep to show",
        },
    )
}

/// End of the direct-response plot's span: the direct window and 10 ms more (the LSR is
/// the other plot's), within the display span.
pub fn direct_span(r: &CaseReport) -> [f64; 2] {
    let end = (r.direct_window_ms[1] + 10.0).min(r.display_ms[1]);
    [r.display_ms[0], end.max(r.display_ms[0] + 1.0)]
}

/// The direct response's baseline and final averages overlaid, its window shaded: the
/// stimulated branch's own muscle, which shows the stimulus reached the nerve.
pub fn direct(r: &CaseReport, m: &MuscleReport) -> Result<String, PlotError> {
    averaged(
        r.display_ms,
        Averaged {
            plot: "direct",
            title: "direct response: baseline vs final".to_string(),
            size: (400, 300),
            x: direct_span(r),
            // Scale to the direct window (the artifact's blank is before it).
            scale_from_ms: r.direct_window_ms[0],
            min_half_uv: 50.0,
            window: r.direct_window_ms,
            window_label: "direct window",
            traces: [
                (
                    "baseline average",
                    BASELINE,
                    m.baseline_direct_trace.as_ref(),
                ),
                ("final average", FINAL, m.final_direct_trace.as_ref()),
            ],
            empty: "no direct response measured",
        },
    )
}

/// One bin of the trend (several sweeps on a long case).
struct Bin {
    t0: f64,
    t1: f64,
    p2p: Option<f64>,
    direct: Option<f64>,
    band: Band,
}

const MAX_BINS: usize = 600;

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    Some(v[i.min(v.len() - 1)])
}

fn bins(points: &[TrendPoint], t_end: f64) -> Vec<Bin> {
    let per = points.len().div_ceil(MAX_BINS).max(1);
    let mut out = Vec::new();
    for (i, chunk) in points.chunks(per).enumerate() {
        let next = points.get((i + 1) * per).map_or(t_end, |p| p.t_s);
        let judged: Vec<&TrendPoint> = chunk.iter().filter(|p| p.judged).collect();
        out.push(Bin {
            t0: chunk[0].t_s,
            t1: next.max(chunk[0].t_s),
            p2p: median(judged.iter().map(|p| p.p2p_uv).collect()),
            direct: median(judged.iter().filter_map(|p| p.direct_uv).collect()),
            band: judged.last().map_or(Band::CannotJudge, |p| p.band),
        });
    }
    out
}

/// LSR amplitude over the case (µV left, % of baseline right), markers, state band, and the
/// direct response below.
pub fn trend(r: &CaseReport, m: &MuscleReport) -> Result<String, PlotError> {
    let t_end = r
        .duration_s
        .max(m.trend.last().map_or(1.0, |p| p.t_s + 1.0));
    let x1 = t_end / 60.0;
    let bins = bins(&m.trend, t_end);
    // Robust tops: a few huge sweeps (a burst judged present) must not flatten the rest;
    // what goes above is drawn at the top.
    let top = quantile(bins.iter().filter_map(|b| b.p2p).collect(), 0.98)
        .unwrap_or(0.0)
        .max(m.baseline_p2p_uv.unwrap_or(0.0) * 1.3)
        .max(20.0)
        * 1.15;
    let dtop = quantile(bins.iter().filter_map(|b| b.direct).collect(), 0.98)
        .unwrap_or(0.0)
        .max(100.0)
        * 1.3;
    svg(1000, 420, |root| {
        let (upper, lower) = root.split_vertically(300);
        let ch = ChartBuilder::on(&upper)
            .margin(8)
            .caption(
                format!("{}: LSR amplitude over the case", m.channel),
                (FONT, 15),
            )
            .x_label_area_size(20)
            .y_label_area_size(52)
            .right_y_label_area_size(52)
            .build_cartesian_2d(0.0..x1, -0.08 * top..top)
            .map_err(err("trend"))?;
        let base = m.baseline_p2p_uv.filter(|b| *b > 0.0);
        let pct_top = base.map_or(100.0, |b| 100.0 * top / b);
        let mut ch = ch.set_secondary_coord(0.0..x1, -0.08 * pct_top..pct_top);
        ch.configure_mesh()
            .y_desc("LSR µV p2p")
            .label_style((FONT, 11))
            .light_line_style(WHITE)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(err("trend"))?;
        if base.is_some() {
            ch.configure_secondary_axes()
                .y_desc("% of baseline")
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style((FONT, 11))
                .draw()
                .map_err(err("trend"))?;
        }
        // State band along the bottom, consecutive bins of one state merged.
        let mut rects = Vec::new();
        for b in &bins {
            match rects.last_mut() {
                Some((band, _, t1)) if *band == b.band => *t1 = b.t1,
                _ => rects.push((b.band, b.t0, b.t1)),
            }
        }
        ch.draw_series(rects.iter().map(|(band, t0, t1)| {
            Rectangle::new(
                [(t0 / 60.0, -0.08 * top), (t1 / 60.0, -0.01 * top)],
                band_colour(*band).filled(),
            )
        }))
        .map_err(err("trend"))?;
        if let Some(b) = base {
            ch.draw_series(LineSeries::new(
                [(0.0, b), (x1, b)],
                BASELINE.mix(0.6).stroke_width(1),
            ))
            .map_err(err("trend"))?;
        }
        // Markers: a vertical line and the label, staggered so neighbours do not overlap.
        for (i, mk) in r.markers.iter().enumerate() {
            let x = mk.time_s / 60.0;
            ch.draw_series(LineSeries::new(
                [(x, -0.01 * top), (x, top)],
                MARKER.mix(0.7).stroke_width(1),
            ))
            .map_err(err("trend"))?;
            let y = top * (0.96 - 0.07 * (i % 4) as f64);
            ch.draw_series(std::iter::once(Text::new(
                mk.label.clone(),
                (x, y),
                (FONT, 11).into_font().color(&MARKER),
            )))
            .map_err(err("trend"))?;
        }
        // The amplitude: a line through the judged bins, dots when every sweep shows.
        let pts: Vec<(f64, f64)> = bins
            .iter()
            .filter_map(|b| b.p2p.map(|v| (0.5 * (b.t0 + b.t1) / 60.0, v.min(top))))
            .collect();
        // (The key is under the plot, in the page: a legend box would hide markers.)
        ch.draw_series(LineSeries::new(pts.iter().copied(), FINAL.stroke_width(1)))
            .map_err(err("trend"))?;

        let mut dc = ChartBuilder::on(&lower)
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .right_y_label_area_size(52)
            .build_cartesian_2d(0.0..x1, 0.0..dtop)
            .map_err(err("trend"))?;
        dc.configure_mesh()
            .x_desc("minutes from the start of the recording")
            .y_desc("direct µV")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 11))
            .light_line_style(WHITE)
            .y_labels(3)
            .draw()
            .map_err(err("trend"))?;
        dc.draw_series(LineSeries::new(
            bins.iter()
                .filter_map(|b| b.direct.map(|v| (0.5 * (b.t0 + b.t1) / 60.0, v.min(dtop)))),
            DIRECT.stroke_width(1),
        ))
        .map_err(err("trend"))?;
        Ok(())
    })
}

/// Sweeps around one state change, stacked (oldest on top); the run that caused the change
/// drawn thicker, the sweep at which it was declared marked.
pub fn cascade(r: &CaseReport, m: &MuscleReport, c: &CascadeModel) -> Result<String, PlotError> {
    let [x0, x1] = r.display_ms;
    let n = c.sweeps.len().max(1);
    let amp = c
        .sweeps
        .iter()
        .flat_map(|(_, _, t)| {
            t.iter()
                .enumerate()
                .filter(|(k, _)| trace_ms(r.display_ms, *k, t.len()) >= 2.0)
                .map(|(_, v)| v.abs() as f64)
        })
        .fold(10.0f64, f64::max);
    let step = amp * 1.2;
    let h = (90 + 26 * n) as u32;
    svg(480, h, |root| {
        let mut ch = ChartBuilder::on(root)
            .margin(8)
            .caption(
                format!(
                    "{}: LSR {} (run from {}, declared {})",
                    m.channel,
                    c.state,
                    crate::report::clock(c.time_s),
                    crate::report::clock(c.declared_at_s)
                ),
                (FONT, 13),
            )
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, -step..step * n as f64)
            .map_err(err("cascade"))?;
        ch.configure_mesh()
            .x_desc("ms after the stimulus")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .disable_y_mesh()
            .disable_y_axis()
            .label_style((FONT, 11))
            .light_line_style(WHITE)
            .draw()
            .map_err(err("cascade"))?;
        let [w0, w1] = r.lsr_window_ms;
        ch.draw_series(std::iter::once(Rectangle::new(
            [(w0.max(x0), -step), (w1.min(x1), step * n as f64)],
            WINDOW.mix(0.2).filled(),
        )))
        .map_err(err("cascade"))?;
        let declared = c
            .sweeps
            .iter()
            .rposition(|(t, _, _)| *t <= c.declared_at_s + 1e-6);
        for (i, (t, status, tr)) in c.sweeps.iter().enumerate() {
            let off = step * (n - 1 - i) as f64;
            let colour = match status.as_str() {
                "present" => FINAL,
                "absent" => BASELINE,
                _ => GREY,
            };
            let in_run = *t >= c.time_s - 1e-6 && *t <= c.declared_at_s + 1e-6;
            let k = tr.len();
            ch.draw_series(LineSeries::new(
                tr.iter().enumerate().map(|(j, v)| {
                    (
                        trace_ms(r.display_ms, j, k),
                        off + (*v as f64).clamp(-step, step),
                    )
                }),
                colour.stroke_width(if in_run { 2 } else { 1 }),
            ))
            .map_err(err("cascade"))?;
            let mark = if Some(i) == declared { " ◀" } else { "" };
            ch.draw_series(std::iter::once(Text::new(
                format!("{} {}{mark}", crate::report::clock(*t), status),
                (x0 + 0.5, off + 0.25 * step),
                (FONT, 10).into_font().color(&colour),
            )))
            .map_err(err("cascade"))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_bins_stay_bounded_and_keep_rejected_sweeps_out_of_the_amplitude() {
        let pts: Vec<TrendPoint> = (0..14_400)
            .map(|i| TrendPoint {
                t_s: i as f64,
                p2p_uv: if i % 10 == 0 { 9_999.0 } else { 100.0 },
                judged: i % 10 != 0,
                direct_uv: Some(1000.0),
                band: Band::Present,
            })
            .collect();
        let b = bins(&pts, 14_400.0);
        assert!(b.len() <= MAX_BINS);
        assert!(b.iter().all(|x| x.p2p == Some(100.0)));
        assert_eq!(b.last().map(|x| x.t1), Some(14_400.0));
    }

    #[test]
    fn traces_are_placed_on_the_display_span() {
        assert_eq!(trace_ms([-10.0, 60.0], 0, 256), -10.0 + 0.5 * 70.0 / 256.0);
        assert!(trace_ms([-10.0, 60.0], 255, 256) < 60.0);
        assert_eq!(span(std::iter::empty(), 20.0), (-20.0, 20.0));
    }
}
