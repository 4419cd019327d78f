//! The `plugin_opt_*` lines of the Mosquitto configuration. Mosquitto reads them once, at
//! start; a SIGHUP reloads the files they name, not the options themselves.

use std::path::PathBuf;
use std::time::Duration;

/// The plugin's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `plugin_opt_config`: the mqward configuration file (required). Relative names inside it
    /// are read from its directory.
    pub config: PathBuf,
    /// `plugin_opt_interval_ms` (20 to 1000, default 250): how often the broker thread's upkeep
    /// ends expired sessions, looks at the certificate registry file and disconnects the
    /// clients whose sessions ended: a kick follows within this interval.
    pub interval: Duration,
    /// `plugin_opt_watch_registry` (`true` or `false`, default `true`): apply suspensions,
    /// reactivations and revocations written to the registry file (`mqward cert suspend ...`)
    /// while the broker runs, without a reload.
    pub watch_registry: bool,
    /// `plugin_opt_decision_cache` (0 to 256, default 16): how many recent allowed requests of
    /// each client are answered without the engine (see [`crate::cache`]); 0 turns it off.
    pub decision_cache: usize,
}

/// The default upkeep interval.
pub const DEFAULT_INTERVAL_MS: u64 = 250;
/// The default number of allowed requests cached per client.
pub const DEFAULT_DECISION_CACHE: usize = 16;

impl Options {
    /// Reads the options Mosquitto passed, as (key, value) pairs in file order. Unknown,
    /// repeated or invalid options are errors: a typo must not leave a setting at its default.
    pub fn parse(pairs: &[(String, String)]) -> Result<Options, String> {
        let mut config = None;
        let mut interval = None;
        let mut watch = None;
        let mut cache = None;
        for (key, value) in pairs {
            let value = value.trim();
            let twice = || format!("`plugin_opt_{key}` is given twice");
            match key.as_str() {
                "config" => {
                    if value.is_empty() {
                        return Err("`plugin_opt_config` is empty".to_owned());
                    }
                    if config.replace(PathBuf::from(value)).is_some() {
                        return Err(twice());
                    }
                }
                "interval_ms" => {
                    let ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|ms| (20..=1000).contains(ms))
                        .ok_or_else(|| {
                            format!(
                                "`plugin_opt_interval_ms` must be a whole number of milliseconds \
                                 from 20 to 1000, not `{value}`"
                            )
                        })?;
                    if interval.replace(Duration::from_millis(ms)).is_some() {
                        return Err(twice());
                    }
                }
                "watch_registry" => {
                    let on = match value {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                            "`plugin_opt_watch_registry` must be `true` or `false`, not `{value}`"
                        ))
                        }
                    };
                    if watch.replace(on).is_some() {
                        return Err(twice());
                    }
                }
                "decision_cache" => {
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= 256)
                        .ok_or_else(|| {
                            format!(
                                "`plugin_opt_decision_cache` must be a whole number from 0 to \
                                 256, not `{value}`"
                            )
                        })?;
                    if cache.replace(n).is_some() {
                        return Err(twice());
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown option `plugin_opt_{key}` (known: config, interval_ms, \
                         watch_registry, decision_cache)"
                    ))
                }
            }
        }
        Ok(Options {
            config: config.ok_or(
                "`plugin_opt_config` is missing: name the mqward configuration file".to_owned(),
            )?,
            interval: interval.unwrap_or(Duration::from_millis(DEFAULT_INTERVAL_MS)),
            watch_registry: watch.unwrap_or(true),
            decision_cache: cache.unwrap_or(DEFAULT_DECISION_CACHE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options, String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Options::parse(&owned)
    }

    #[test]
    fn defaults_and_values() {
        let o = parse(&[("config", "/etc/mqward/config.json")]).unwrap();
        assert_eq!(o.config, PathBuf::from("/etc/mqward/config.json"));
        assert_eq!(o.interval, Duration::from_millis(250));
        assert!(o.watch_registry);
        assert_eq!(o.decision_cache, 16);
        let o = parse(&[
            ("interval_ms", "100"),
            ("config", " /a b/c.json "),
            ("watch_registry", "false"),
            ("decision_cache", "0"),
        ])
        .unwrap();
        assert_eq!(o.decision_cache, 0);
        assert_eq!(o.config, PathBuf::from("/a b/c.json"));
        assert_eq!(o.interval, Duration::from_millis(100));
        assert!(!o.watch_registry);
    }

    #[test]
    fn mistakes_are_errors() {
        for (pairs, said) in [
            (vec![], "is missing"),
            (vec![("config", "  ")], "is empty"),
            (vec![("config", "a"), ("config", "b")], "twice"),
            (
                vec![("config", "a"), ("conifg", "b")],
                "unknown option `plugin_opt_conifg`",
            ),
            (
                vec![("config", "a"), ("interval_ms", "5")],
                "from 20 to 1000",
            ),
            (vec![("config", "a"), ("interval_ms", "1e3")], "not `1e3`"),
            (
                vec![("config", "a"), ("watch_registry", "yes")],
                "`true` or `false`",
            ),
        ] {
            let err = parse(&pairs).unwrap_err();
            assert!(err.contains(said), "{pairs:?}: {err}");
        }
    }
}
