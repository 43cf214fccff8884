//! Patterns across counts: runs of low values, baseline, nadir and recovery, rapid falls,
//! and periodicity on irregularly spaced counts (Lomb-Scargle periodogram).

use time::OffsetDateTime;

/// One point of a series: time, value and whether it is low for this person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// When.
    pub at: OffsetDateTime,
    /// Value (canonical units).
    pub value: f64,
    /// Below the person's lower limit.
    pub low: bool,
}

/// Days between two instants, as a real number.
pub fn days_between(a: OffsetDateTime, b: OffsetDateTime) -> f64 {
    (b - a).as_seconds_f64() / 86_400.0
}

/// The latest run of consecutive low points (ending at the last point), if the last point is low.
pub fn latest_low_run(points: &[Point]) -> Option<&[Point]> {
    let last = points.last()?;
    if !last.low {
        return None;
    }
    let start = points.iter().rposition(|p| !p.low).map_or(0, |i| i + 1);
    points.get(start..)
}

/// The median of values.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let mid = n / 2;
    if n % 2 == 1 {
        values.get(mid).copied()
    } else {
        Some((values.get(mid - 1)? + values.get(mid)?) / 2.0)
    }
}

/// Lomb-Scargle periodogram of irregularly sampled values, scanned over periods from
/// `min_days` to `max_days` in steps of a quarter day. Returns the period with the highest
/// normalised power (0 to 1) and that power, or `None` with fewer than 6 points or no
/// variance.
pub fn periodogram_peak(
    times_days: &[f64],
    values: &[f64],
    min_days: f64,
    max_days: f64,
) -> Option<(f64, f64)> {
    let n = times_days.len().min(values.len());
    if n < 6 || !(min_days > 0.0 && max_days > min_days) {
        return None;
    }
    let nf = n as f64;
    let mean = values.iter().take(n).sum::<f64>() / nf;
    let var = values
        .iter()
        .take(n)
        .map(|v| (v - mean).powi(2))
        .sum::<f64>()
        / (nf - 1.0);
    if var <= 0.0 || !var.is_finite() {
        return None;
    }
    let mut best: Option<(f64, f64)> = None;
    let mut period = min_days;
    while period <= max_days {
        let w = std::f64::consts::TAU / period;
        let (mut s2, mut c2) = (0.0, 0.0);
        for t in times_days.iter().take(n) {
            s2 += (2.0 * w * t).sin();
            c2 += (2.0 * w * t).cos();
        }
        let tau = s2.atan2(c2) / (2.0 * w);
        let (mut yc, mut ys, mut cc, mut ss) = (0.0, 0.0, 0.0, 0.0);
        for (t, v) in times_days.iter().zip(values).take(n) {
            let arg = w * (t - tau);
            let (s, c) = arg.sin_cos();
            let y = v - mean;
            yc += y * c;
            ys += y * s;
            cc += c * c;
            ss += s * s;
        }
        if cc > 0.0 && ss > 0.0 {
            // Normalised so that a pure sinusoid sampled well gives about 1.
            let power = (yc * yc / cc + ys * ys / ss) / (2.0 * var) * 2.0 / nf;
            if best.is_none_or(|(_, p)| power > p) {
                best = Some((period, power));
            }
        }
        period += 0.25;
    }
    best
}

/// Nadir episodes: for each run of low points, the time of its lowest value. Runs must be
/// separated by at least one point that is not low (a recovery).
pub fn nadirs(points: &[Point]) -> Vec<Point> {
    let mut out = Vec::new();
    let mut current: Option<Point> = None;
    for p in points {
        if p.low {
            current = Some(match current {
                Some(c) if c.value <= p.value => c,
                _ => *p,
            });
        } else if let Some(c) = current.take() {
            out.push(c);
        }
    }
    out.extend(current);
    out
}
