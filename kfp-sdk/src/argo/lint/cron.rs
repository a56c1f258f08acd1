//! The syntaxes Argo checks with Go libraries: cron schedules (`robfig/cron`'s standard
//! parser), time zones (`time.LoadLocation`) and durations (`time.ParseDuration`).

use super::timezones::ZONES;

/// Whether Go's `time.LoadLocation` accepts `name`.
pub(super) fn is_time_zone(name: &str) -> bool {
    name.is_empty() || name == "Local" || ZONES.binary_search(&name).is_ok()
}

/// Checks a schedule as `cron.ParseStandard` does: five fields (minute, hour, day of month,
/// month, day of week) or a descriptor (`@daily`, `@every 1h30m`), optionally after
/// `CRON_TZ=Zone ` or `TZ=Zone `.
pub(super) fn check_schedule(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let (zone_part, rest) = spec.split_once(' ').unwrap_or((spec, ""));
        let zone = zone_part.split_once('=').map_or("", |(_, z)| z);
        if !is_time_zone(zone) {
            return Err(format!(
                "provided bad location {zone}: unknown time zone {zone}"
            ));
        }
        spec = rest.trim();
    }
    if let Some(descriptor) = spec.strip_prefix('@') {
        return match descriptor {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ => match descriptor.strip_prefix("every ") {
                Some(duration) => go_duration(duration)
                    .map_err(|e| format!("failed to parse duration {spec}: {e}")),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let bounds: [(u32, u32, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 6, &DAYS),
    ];
    for (field, (min, max, names)) in fields.iter().zip(bounds) {
        for part in field.split(',') {
            check_range(part, min, max, names)?;
        }
    }
    Ok(())
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each with an optional `/STEP`.
fn check_range(expr: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let value = |text: &str| -> Result<u32, String> {
        // Names count from the field's minimum (jan = 1, sun = 0).
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(min + i as u32);
        }
        number(text, expr)
    };
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (min, max)
    } else {
        let start = value(low_and_high[0])?;
        let end = match low_and_high.len() {
            1 => start,
            2 => value(low_and_high[1])?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            if low_and_high.len() == 1 {
                end = max;
            }
            number(range_and_step[1], expr)?
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({min}): {expr}"
        ));
    }
    if end > max {
        return Err(format!(
            "end of range ({end}) above maximum ({max}): {expr}"
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn number(text: &str, expr: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("failed to parse int from {text}: {expr}"));
    }
    text.parse()
        .map_err(|_| format!("failed to parse int from {text}: {expr}"))
}

/// Checks a duration as Go's `time.ParseDuration` does: `"0"`, or numbers (fractions
/// allowed) each followed by a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), optionally
/// signed: `"90s"`, `"1h30m"`, `"1.5h"`. There is no day unit.
pub(crate) fn go_duration(text: &str) -> Result<(), String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let mut rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration \"{text}\""));
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!(
                "time: unknown unit \"{unit}\" in duration \"{text}\""
            ));
        }
        rest = &rest[unit_len..];
    }
    Ok(())
}

/// Checks a duration as Argo reads retry backoff fields: a whole number of seconds or a Go
/// duration.
pub(crate) fn seconds_or_go_duration(text: &str) -> Result<(), String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    go_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_robfig_accepts() {
        for ok in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 9-17/2 * * mon-fri",
            "30 12 1,15 JAN,jul ?",
            "5 4 * * 0",
            "0 0 1/3 * *",
            "@daily",
            "@every 1h30m",
            "CRON_TZ=Asia/Tokyo 0 6 * * *",
        ] {
            assert_eq!(check_schedule(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn schedules_robfig_rejects() {
        let cases = [
            ("", "empty spec string"),
            ("0 3 * *", "expected exactly 5 fields, found 4"),
            ("0 25 * * *", "end of range (25) above maximum (23): 25"),
            ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1)",
            ),
            ("*/0 * * * *", "step of range should be a positive number"),
            ("1-2-3 * * * *", "too many hyphens"),
            ("x * * * *", "failed to parse int from x"),
            ("@fortnightly", "unrecognized descriptor"),
            ("@every 1d", "failed to parse duration"),
            (
                "TZ=Nowhere/City 0 0 * * *",
                "provided bad location Nowhere/City",
            ),
        ];
        for (spec, expected) in cases {
            let err = check_schedule(spec).unwrap_err();
            assert!(err.contains(expected), "{spec}: {err}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        for zone in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "US/Pacific",
            "Local",
            "Etc/GMT+5",
        ] {
            assert!(is_time_zone(zone), "{zone}");
        }
        for zone in ["Mars/Olympus", "europe/paris", "CEST", "+02:00"] {
            assert!(!is_time_zone(zone), "{zone}");
        }
    }

    #[test]
    fn go_durations() {
        for ok in ["0", "90s", "1h30m", "1.5h", "300ms", "2µs", "-1m"] {
            assert_eq!(go_duration(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1d", "10", "h", "1..5s", "1h 30m"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds_or_go_duration("10"), Ok(()));
        assert!(seconds_or_go_duration("ten").is_err());
    }
}
