//! The dashboard's small line charts: one value a second over the last minutes, newest at the
//! right, scaled to the largest value shown.

use leptos::prelude::*;

use super::snapshot::SERIES_SECONDS;

/// The chart's drawing box, one unit a tenth of a second wide; the SVG stretches it to the
/// width it is given. Whole numbers throughout: formatting floats would add kilobytes to the
/// bundle.
const STEP: u64 = 10;
const WIDTH: u64 = STEP * (SERIES_SECONDS as u64 - 1);
const HEIGHT: u64 = 600;

#[component]
pub fn Sparkline(
    id: &'static str,
    title: &'static str,
    /// Oldest first, one a second.
    #[prop(into)]
    values: Signal<Vec<u64>>,
) -> impl IntoView {
    let peak = move || values.with(|v| v.iter().copied().max().unwrap_or(0));
    let latest = move || values.with(|v| v.last().copied().unwrap_or(0));
    view! {
        <figure class="chart" id=id>
            <figcaption>
                {title} ": " <strong class="latest">{move || latest().to_string()}</strong>
                <span class="peak">{move || format!(" (peak {} in the last {} min)", peak(), SERIES_SECONDS / 60)}</span>
            </figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=title>
                <polyline points=move || values.with(|v| points(v)) fill="none" stroke="currentColor"
                    stroke-width="1.5" vector-effect="non-scaling-stroke"/>
            </svg>
        </figure>
    }
}

/// The polyline's points for `values`: the newest at the right edge, one step a second, the
/// largest value (at least 1) at the top, a unit of margin above and below.
pub fn points(values: &[u64]) -> String {
    let top = values.iter().copied().max().unwrap_or(0).max(1);
    let shown = &values[values.len().saturating_sub(SERIES_SECONDS)..];
    let first_x = WIDTH - STEP * shown.len().saturating_sub(1) as u64;
    shown
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let x = first_x + STEP * i as u64;
            let y = HEIGHT - 10 - value.min(&top) * (HEIGHT - 20) / top;
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_value_is_at_the_right_and_the_largest_at_the_top() {
        assert_eq!(points(&[0, 5, 10]), "2970,590 2980,300 2990,10");
    }

    #[test]
    fn an_idle_server_is_a_flat_line_at_the_bottom_and_nothing_is_nothing() {
        assert_eq!(points(&[0, 0]), "2980,590 2990,590");
        assert_eq!(points(&[]), "");
        let full = points(&vec![1; SERIES_SECONDS + 10]);
        assert_eq!(full.split(' ').count(), SERIES_SECONDS);
        assert!(full.starts_with("0,10 "), "{full}");
    }
}
