//! TLS to the database, chosen by libpq's `sslmode` and `sslrootcert` in the connection URL.
//!
//! `postgres::Config` knows only `disable`, `prefer` and `require`, and treats every mode as
//! "encrypt, verify nothing" unless the connector verifies. So the two parameters are taken out
//! of the URL here, the rest is parsed as before, and the connector is set up to verify as the
//! mode says:
//!
//! | `sslmode` | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | absent, `disable` | no | – | – |
//! | `prefer` | if the server offers it | no | no |
//! | `require` | yes | no | no |
//! | `verify-ca` | yes | against `sslrootcert` | no |
//! | `verify-full` | yes | against `sslrootcert` | yes |
//!
//! Unlike libpq, an absent `sslmode` means plain connections (as this crate always made), and
//! `verify-ca`/`verify-full` need `sslrootcert=<PEM file>`; libpq's default root file
//! (`~/.postgresql/root.crt`) and client certificates are not used.

use std::path::PathBuf;

use native_tls::{Certificate, TlsConnector};
use postgres::config::SslMode;
use postgres_native_tls::MakeTlsConnector;

use crate::error::PostgresError;

/// How connections are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP or Unix sockets.
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    Prefer,
    /// TLS always, without checking the certificate.
    Require,
    /// TLS always; the certificate must chain to `sslrootcert`.
    VerifyCa,
    /// TLS always; the certificate must chain to `sslrootcert` and name the host.
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, PostgresError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's `allow` (plain first, TLS if refused) is not supported.
            other => return Err(PostgresError::InvalidTls(format!("unknown sslmode {other:?}"))),
        })
    }
}

/// A connection URL split into what `postgres::Config` parses and the TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsUrl {
    /// The URL without `sslmode` and `sslrootcert`.
    pub rest: String,
    pub mode: TlsMode,
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://…?…` URL or a libpq `key=value` string.
pub(crate) fn split_url(url: &str) -> Result<TlsUrl, PostgresError> {
    let mut mode = None;
    let mut root_cert = None;
    let mut take = |key: &str, value: String| -> Result<bool, PostgresError> {
        match key {
            "sslmode" => mode = Some(TlsMode::parse(&value)?),
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, percent_decode(value))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (key, value, raw) in key_values(url)? {
            if !take(&key, value)? {
                kept.push(raw);
            }
        }
        kept.join(" ")
    };
    let mode = mode.unwrap_or(TlsMode::Disable);
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && root_cert.is_none() {
        return Err(PostgresError::InvalidTls("sslmode=verify-ca and verify-full need sslrootcert=<PEM file>".into()));
    }
    Ok(TlsUrl { rest, mode, root_cert })
}

/// The connector for `tls`, and the `postgres` mode to use it under.
pub(crate) fn connector(tls: &TlsUrl) -> Result<(MakeTlsConnector, SslMode), PostgresError> {
    let mut builder = TlsConnector::builder();
    match tls.mode {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => {
            builder.danger_accept_invalid_certs(true);
        }
        TlsMode::VerifyCa => {
            builder.danger_accept_invalid_hostnames(true);
        }
        TlsMode::VerifyFull => {}
    }
    if let (Some(path), true) = (&tls.root_cert, matches!(tls.mode, TlsMode::VerifyCa | TlsMode::VerifyFull)) {
        let pem = std::fs::read(path)
            .map_err(|e| PostgresError::InvalidTls(format!("cannot read sslrootcert {}: {e}", path.display())))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            PostgresError::InvalidTls(format!("sslrootcert {} is not a PEM certificate: {e}", path.display()))
        })?;
        // Only the given root: libpq's verify modes trust sslrootcert, not the system store.
        builder.disable_built_in_roots(true);
        builder.add_root_certificate(certificate);
    }
    let connector = builder.build().map_err(|e| PostgresError::InvalidTls(format!("TLS setup failed: {e}")))?;
    let ssl_mode = match tls.mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
    };
    Ok((MakeTlsConnector::new(connector), ssl_mode))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// libpq's `key=value key='quoted \' value'` form: each pair's key, unquoted value and raw text.
fn key_values(text: &str) -> Result<Vec<(String, String, String)>, PostgresError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { return Ok(out) };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next().map(|(_, c)| c) != Some('=') {
            // Not ours to judge: leave it for `postgres::Config` to report.
            return Ok(vec![(String::new(), String::new(), text.to_owned())]);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((_, '\'')) => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(PostgresError::InvalidTls("unterminated quoted value in the URL".into())),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                value.push(c);
            }
        }
        let end = chars.peek().map_or(text.len(), |(i, _)| *i);
        out.push((key, value, text[start..end].trim_end().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_tls_parameters() {
        let tls =
            split_url("postgres://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x")
                .unwrap();
        assert_eq!(tls.rest, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(tls.mode, TlsMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        let plain = split_url("postgres://u@h/db").unwrap();
        assert_eq!((plain.rest.as_str(), plain.mode), ("postgres://u@h/db", TlsMode::Disable));
        let required = split_url("postgresql://u@h/db?sslmode=require").unwrap();
        assert_eq!((required.rest.as_str(), required.mode), ("postgresql://u@h/db", TlsMode::Require));
    }

    #[test]
    fn key_value_strings_lose_their_tls_parameters() {
        let tls = split_url("host=h user=u sslmode = verify-ca sslrootcert='/a b/c\\'s.pem' dbname=d").unwrap();
        assert_eq!(tls.rest, "host=h user=u dbname=d");
        assert_eq!(tls.mode, TlsMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/a b/c's.pem")));
    }

    #[test]
    fn bad_tls_settings_are_refused() {
        assert!(matches!(split_url("postgres://h/db?sslmode=allow"), Err(PostgresError::InvalidTls(_))));
        assert!(matches!(split_url("postgres://h/db?sslmode=verify-full"), Err(PostgresError::InvalidTls(_))));
        let missing = split_url("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap();
        assert!(
            matches!(connector(&missing), Err(PostgresError::InvalidTls(message)) if message.contains("nonexistent"))
        );
    }
}
