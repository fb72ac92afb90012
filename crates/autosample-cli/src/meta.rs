//! Versions and commit, recorded in every output.

use serde::Serialize;

/// Where a result came from.
#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    /// autosample's version.
    pub autosample: &'static str,
    /// The git commit the binary was built from (`unknown` outside a checkout).
    pub commit: &'static str,
    /// burn's version (pinned).
    pub burn: &'static str,
    /// The burn backend compiled in.
    pub backend: &'static str,
    /// Build profile.
    pub profile: &'static str,
}

/// This binary's build information.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        autosample: env!("CARGO_PKG_VERSION"),
        commit: env!("AUTOSAMPLE_COMMIT"),
        burn: "0.22.1",
        backend: autosample_models::backend_name(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    }
}

/// Seconds since the Unix epoch, and the UTC date-time as `YYYYmmdd-HHMMSS`.
pub fn utc_stamp() -> (u64, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let stamp = format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    (secs, stamp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamp_has_the_expected_shape() {
        let (_, s) = super::utc_stamp();
        assert_eq!(s.len(), 15);
        assert_eq!(&s[8..9], "-");
    }
}
