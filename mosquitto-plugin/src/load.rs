//! Loading the mqward configuration that `plugin_opt_config` names, and every file it names,
//! on the calling thread (plugin start and SIGHUP, never the per-message path). A relative name
//! in the configuration is read from the configuration's directory, as the `mqward` CLI does.

use std::path::{Path, PathBuf};

use mqward_core::{Config, Engine, Error};

use crate::clock;

/// A configuration read from disk, with the directory its relative names start from.
#[derive(Debug)]
pub struct Source {
    config: Config,
    dir: PathBuf,
}

/// An engine built from a configuration, and what the host needs beside it.
#[derive(Debug)]
pub struct Loaded {
    /// The engine.
    pub engine: Engine,
    /// Warnings to log (anonymous access, declared identities).
    pub warnings: Vec<String>,
    /// The certificate registry file, if the configuration names one.
    pub registry: Option<PathBuf>,
}

impl Source {
    /// Reads and parses the configuration file. Errors name the file.
    pub fn read(path: &Path) -> Result<Source, Vec<String>> {
        let shown = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| vec![format!("cannot read the configuration `{shown}`: {e}")])?;
        let config = Config::from_json(&bytes).map_err(|e| problems(&shown.to_string(), &e))?;
        let dir = path.parent().unwrap_or(Path::new("")).to_owned();
        Ok(Source { config, dir })
    }

    /// Where a name in the configuration points.
    pub fn resolve(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The registry file, resolved.
    pub fn registry(&self) -> Option<PathBuf> {
        self.config.registry_file().map(|name| self.resolve(name))
    }

    /// Reads a file the configuration names.
    fn reader(&self) -> impl FnMut(&str) -> Result<Vec<u8>, String> + '_ {
        move |name: &str| {
            let file = self.resolve(name);
            std::fs::read(&file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))
        }
    }
}

/// Every problem of a core error as a line, prefixed with the file it came from.
pub fn problems(file: &str, e: &Error) -> Vec<String> {
    let list = e.problems();
    if list.is_empty() {
        return vec![format!("`{file}`: {e}")];
    }
    list.iter().map(|p| format!("`{file}`: {p}")).collect()
}

/// Builds an engine from the configuration at `path`.
pub fn load(path: &Path) -> Result<Loaded, Vec<String>> {
    let source = Source::read(path)?;
    let key = clock::random::<32>().map_err(|e| vec![e])?;
    let (engine, warnings) = Engine::from_config(&source.config, &mut source.reader(), &key)
        .map_err(|e| problems(&path.display().to_string(), &e))?;
    Ok(Loaded {
        engine,
        warnings,
        registry: source.registry(),
    })
}

/// Reloads the configuration at `path` into `engine`. On any error the engine is unchanged.
/// Returns the warnings to log and the registry file.
pub fn reload(engine: &Engine, path: &Path) -> Result<(Vec<String>, Option<PathBuf>), Vec<String>> {
    let source = Source::read(path)?;
    let key = clock::random::<32>().map_err(|e| vec![e])?;
    let warnings = engine
        .reload_config(&source.config, &mut source.reader(), &key)
        .map_err(|e| problems(&path.display().to_string(), &e))?;
    Ok((warnings, source.registry()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mqward-mosq-load-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        dir
    }

    const POLICY: &str = r#"{"version":1,"groups":[{"name":"all","selectionRule":"*","policies":["p"]}],
        "policies":{"p":[{"id":"c","effect":"allow","operations":["connect"],"resources":["*"]}]}}"#;

    #[test]
    fn relative_names_are_read_from_the_configuration_directory() {
        let dir = dir("relative");
        std::fs::write(dir.join("sub/policy.json"), POLICY).unwrap();
        std::fs::write(
            dir.join("sub/config.json"),
            r#"{"version":1,"policy":"policy.json","allowAnonymous":true}"#,
        )
        .unwrap();
        let loaded = load(&dir.join("sub/config.json")).unwrap();
        assert_eq!(loaded.registry, None);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        let (warnings, _) = reload(&loaded.engine, &dir.join("sub/config.json")).unwrap();
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn problems_name_the_files() {
        let dir = dir("problems");
        let config = dir.join("config.json");
        let err = load(&config).unwrap_err();
        assert!(err[0].contains("cannot read the configuration"), "{err:?}");
        std::fs::write(
            &config,
            r#"{"version":1,"policy":"missing.json","polcy":1}"#,
        )
        .unwrap();
        let err = load(&config).unwrap_err();
        assert!(err[0].contains("polcy"), "{err:?}");
        std::fs::write(&config, r#"{"version":1,"policy":"missing.json"}"#).unwrap();
        let err = load(&config).unwrap_err();
        assert!(err.iter().any(|e| e.contains("missing.json")), "{err:?}");
        std::fs::write(dir.join("policy.json"), POLICY).unwrap();
        std::fs::write(&config, r#"{"version":1,"policy":"policy.json"}"#).unwrap();
        let loaded = load(&config).unwrap();
        std::fs::write(dir.join("policy.json"), "{").unwrap();
        assert!(reload(&loaded.engine, &config).is_err());
    }
}
