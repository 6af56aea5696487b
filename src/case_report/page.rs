//! The page: the report model through a template (minijinja, HTML auto-escaping), plots
//! inlined as SVG. A pure function of the model: the same model gives the same bytes.

use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::model::{Band, CaseReport};
use super::plots::{self, PlotError};

const TEMPLATE: &str = include_str!("page.html");

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("the page template failed: {0}")]
    Template(#[from] minijinja::Error),
}

#[derive(Serialize)]
struct MusclePlots {
    overlay: String,
    direct: String,
    trend: String,
    cascades: Vec<String>,
}

/// `12.3` with `d` decimals; "–" when missing.
fn num(v: Value, d: Option<i32>) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => format!("{:.*}", d.unwrap_or(1).max(0) as usize, x),
        _ => "–".to_string(),
    }
}

/// Case time as h:mm:ss.s; "–" when missing.
fn clock(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => crate::report::clock(x),
        _ => "–".to_string(),
    }
}

/// Renders the page.
pub fn render(r: &CaseReport) -> Result<String, PageError> {
    let mut plots_out = Vec::with_capacity(r.muscles.len());
    for m in &r.muscles {
        plots_out.push(MusclePlots {
            overlay: plots::overlay(r, m)?,
            direct: plots::direct(r, m)?,
            trend: plots::trend(r, m)?,
            cascades: m
                .cascades
                .iter()
                .map(|c| plots::cascade(r, m, c))
                .collect::<Result<_, _>>()?,
        });
    }
    let bands: Vec<(&str, String)> = [
        Band::Baseline,
        Band::Present,
        Band::Absent,
        Band::CannotJudge,
        Band::NoBaseline,
        Band::Appeared,
    ]
    .into_iter()
    .map(|b| (b.label(), plots::band_css(b)))
    .collect();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_filter("num", num);
    env.add_filter("clock", clock);
    env.add_template("page.html", TEMPLATE)?;
    let tpl = env.get_template("page.html")?;
    let out = tpl.render(minijinja::context! {
        r => Value::from(Serde(r)),
        plots => Value::from(Serde(&plots_out)),
        bands => Value::from(Serde(&bands)),
        version => env!("CARGO_PKG_VERSION"),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_filters_say_when_a_value_is_missing() {
        assert_eq!(num(Value::from(12.345), Some(1)), "12.3");
        assert_eq!(num(Value::from(()), Some(1)), "–");
        assert_eq!(clock(Value::from(306.0)), "0:05:06.0");
        assert_eq!(clock(Value::from(())), "–");
    }
}
