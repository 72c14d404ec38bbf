//! Small pieces the image commands share: image ID text, creation times.

use strata_oci::Digest;

/// docker's IMAGE ID cell: 12 hex characters, or `sha256:<64>` with
/// `--no-trunc`.
pub fn image_id_text(id: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}

/// Unix seconds of an RFC 3339 `created` (0 when absent or invalid, which
/// docker shows as `N/A`).
pub fn created_unix(created: Option<&str>) -> i64 {
    created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map_or(0, |t| t.timestamp())
}

/// Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05 +0000 UTC`.
pub fn go_time_string(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}
