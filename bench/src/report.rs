//! The results table: every run's value of each metric, their median, min and max.

use crate::*;

/// One line of the table: every run's value of one metric.
pub(crate) struct Metric {
    pub(crate) scenario: String,
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) values: Vec<f64>,
}

/// The collected figures, in the order they were first reported.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) metrics: Vec<Metric>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn add(&mut self, scenario: &str, name: &str, unit: &'static str, value: f64) {
        if let Some(m) = self
            .metrics
            .iter_mut()
            .find(|m| m.scenario == scenario && m.name == name)
        {
            m.values.push(value);
            return;
        }
        self.metrics.push(Metric {
            scenario: scenario.to_string(),
            name: name.to_string(),
            unit,
            values: vec![value],
        });
    }

    pub(crate) fn median(&self, scenario: &str, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.scenario == scenario && m.name == name)
            .map(|m| stats(&m.values).0)
    }

    pub(crate) fn note(&mut self, text: String) {
        eprintln!("note: {text}");
        self.notes.push(text);
    }

    pub(crate) fn markdown(&self) -> String {
        let mut out = String::from(
            "| scenario | metric | median | min | max | runs | unit |\n|---|---|---:|---:|---:|---:|---|\n",
        );
        for m in &self.metrics {
            let (med, min, max) = stats(&m.values);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                m.scenario,
                m.name,
                num(med),
                num(min),
                num(max),
                m.values.len(),
                m.unit
            ));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out
    }
}

/// Median, min and max.
pub(crate) fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The `q` quantile (nearest rank) of sorted values.
pub(crate) fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(crate) fn ts(at: DateTime<Utc>) -> String {
    schedlite::timestamp::format(at)
}

pub(crate) fn parse_ts(text: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc))
}

pub(crate) fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}
