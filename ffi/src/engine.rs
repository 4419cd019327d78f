//! The engine handle: creation from a configuration file or buffer, reloads that keep the old
//! snapshot on failure, the timer tick, and free.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use mqward_core::{Config, Engine};

use crate::events::{EventQueue, Notice};
use crate::handle::{self, Handle, Magic, Opaque};
use crate::result::{mqward_result, Result};
use crate::strings::{self, write_message, Out, TextOut};
use crate::{boundary, host};

/// An engine: the compiled policy, the authenticator, the certificate registry, the sessions
/// and the queue of events for the host. Made by `mqward_engine_new_from_file` or
/// `mqward_engine_new_from_buffer`, released by `mqward_engine_free`.
///
/// Shared: every function taking a `const mqward_engine *` may run on any number of threads at
/// once, decisions included, while another thread reloads.
#[allow(non_camel_case_types)]
pub struct mqward_engine {
    _private: [u8; 0],
}

/// What an engine handle points to.
#[repr(C)]
pub(crate) struct EngineHandle {
    magic: Magic,
    pub engine: Engine,
    /// Where the configuration comes from; its lock also serializes reloads.
    source: Mutex<Source>,
    pub events: EventQueue,
}
handle::magic_first!(EngineHandle);

impl Handle for EngineHandle {
    const MAGIC: u64 = 0x6d71_7761_7264_454e; // "mqwardEN"
    fn magic(&self) -> &Magic {
        &self.magic
    }
}

impl Opaque for mqward_engine {
    type Inner = EngineHandle;
}

/// Where a configuration comes from: relative file names in it are read from `base`.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Buffer { config: Vec<u8>, base: PathBuf },
}

/// Why a configuration could not be loaded, with the text for the caller's report.
struct Failure {
    code: mqward_result,
    report: String,
}

impl From<mqward_result> for Failure {
    fn from(code: mqward_result) -> Failure {
        Failure {
            code,
            report: code.message().to_owned(),
        }
    }
}

impl Source {
    /// The configuration's bytes and the directory its file names are relative to.
    fn read(&self) -> std::result::Result<(Vec<u8>, PathBuf), Failure> {
        match self {
            Source::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| Failure {
                    code: mqward_result::Io,
                    report: format!("cannot read `{}`: {e}", path.display()),
                })?;
                let base = path.parent().unwrap_or(Path::new("")).to_owned();
                Ok((bytes, base))
            }
            Source::Buffer { config, base } => Ok((config.clone(), base.clone())),
        }
    }

    /// Parses the configuration; `load` builds from it with a reader for its files and fresh
    /// random bytes, returning the warnings to log.
    fn apply<T>(
        &self,
        load: impl FnOnce(
            &Config,
            &mut dyn FnMut(&str) -> std::result::Result<Vec<u8>, String>,
            &[u8; 32],
        ) -> std::result::Result<T, mqward_core::Error>,
    ) -> std::result::Result<T, Failure> {
        let (bytes, base) = self.read()?;
        let config = Config::from_json(&bytes).map_err(|e| self.invalid(&e))?;
        let random = host::random::<32>()?;
        load(&config, &mut |name| host::read_named(&base, name), &random)
            .map_err(|e| self.invalid(&e))
    }

    fn invalid(&self, e: &mqward_core::Error) -> Failure {
        let report = match self {
            Source::File(path) => format!("`{}`: {e}", path.display()),
            Source::Buffer { .. } => e.to_string(),
        };
        Failure {
            code: e.into(),
            report,
        }
    }

    /// A source from a C path, resolved against the current directory now so that a later
    /// `chdir` does not change what a reload reads.
    fn file(path: &str) -> Result<Source> {
        if path.is_empty() {
            return Err(mqward_result::InvalidArgument);
        }
        Ok(Source::File(absolute(Path::new(path))))
    }

    /// A source from a buffer and an optional base directory (the current one if absent).
    fn buffer(config: &[u8], base: Option<&str>) -> Source {
        let base = match base {
            Some(dir) if !dir.is_empty() => absolute(Path::new(dir)),
            // If even the current directory is unknown, relative names stay relative.
            _ => std::env::current_dir().unwrap_or_default(),
        };
        Source::Buffer {
            config: config.to_vec(),
            base,
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes a report (warnings or problems, one per line) if the caller gave a buffer.
fn report(out: TextOut, text: &str) {
    // A cut report is still a report: the caller sees the full length in `*report_out_len`.
    let _ = write_message(text, out);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (they are replaced whole).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EngineHandle {
    fn new(source: Source) -> std::result::Result<(EngineHandle, Vec<String>), Failure> {
        let (engine, warnings) = source.apply(Engine::from_config)?;
        Ok((
            EngineHandle {
                magic: Magic::new(Self::MAGIC),
                engine,
                source: Mutex::new(source),
                events: EventQueue::new(),
            },
            warnings,
        ))
    }

    /// Reloads from `source` (the current one if `None`); on success it becomes the source.
    fn reload(&self, source: Option<Source>) -> std::result::Result<Vec<String>, Failure> {
        let mut current = lock(&self.source);
        let source = source.unwrap_or_else(|| current.clone());
        let warnings =
            source.apply(|config, read, random| self.engine.reload_config(config, read, random))?;
        *current = source;
        drop(current);
        self.events.push(Notice::Reloaded);
        self.events.pump(&self.engine);
        Ok(warnings)
    }
}

/// A checked engine reference.
///
/// # Safety
///
/// As for `handle::handle_ref`.
pub(crate) unsafe fn engine_ref<'a>(engine: *const mqward_engine) -> Result<&'a EngineHandle> {
    // SAFETY: the caller's guarantee is the one `handle_ref` needs.
    unsafe { handle::handle_ref(engine) }
}

/// Creates an engine from `source`, writing the report and the handle.
///
/// # Safety
///
/// `report` as for `TextOut::new`, `engine_out` as for `Out::new`.
unsafe fn create(
    source: Result<Source>,
    report_buf: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
    engine_out: *mut *const mqward_engine,
) -> Result<()> {
    // SAFETY: the caller's guarantees are the ones `TextOut::new` and `Out::new` need.
    let (text, out) = unsafe {
        (
            TextOut::new(report_buf, report_len, report_out_len)?,
            Out::new(engine_out)?,
        )
    };
    match source.map_err(Failure::from).and_then(EngineHandle::new) {
        Ok((engine, warnings)) => {
            report(text, &warnings.join("\n"));
            out.write(handle::into_arc_ptr(Arc::new(engine)));
            Ok(())
        }
        Err(failure) => {
            report(text, &failure.report);
            Err(failure.code)
        }
    }
}

/// Reloads an engine from `source`, writing the report.
///
/// # Safety
///
/// `engine` as for `engine_ref`, `report` as for `TextOut::new`.
unsafe fn reload(
    engine: *const mqward_engine,
    source: Result<Option<Source>>,
    report_buf: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
) -> Result<()> {
    // SAFETY: the caller's guarantees are the ones `engine_ref` and `TextOut::new` need.
    let (engine, text) = unsafe {
        (
            engine_ref(engine)?,
            TextOut::new(report_buf, report_len, report_out_len)?,
        )
    };
    match source.map_err(Failure::from).and_then(|s| engine.reload(s)) {
        Ok(warnings) => {
            report(text, &warnings.join("\n"));
            Ok(())
        }
        Err(failure) => {
            report(text, &failure.report);
            Err(failure.code)
        }
    }
}

/// Creates an engine from a configuration file (JSON, `version: 1`): the policy, the
/// credential sources and the session settings it names are read now, relative to the
/// configuration file's directory unless absolute.
///
/// - `config_path`: NUL-terminated UTF-8 path.
/// - `report`, `report_len`, `report_out_len`: optional (NULL, 0, NULL): receives the warnings
///   to log on success (one per line, empty if none) or every problem on failure, cut to fit;
///   `*report_out_len` gets the full length.
/// - `engine_out`: receives the engine on success. Free it with `mqward_engine_free`.
///
/// Returns `MQWARD_RESULT_IO` if the configuration file cannot be read,
/// `MQWARD_RESULT_INVALID_CONFIGURATION` if it or a file it names is invalid.
///
/// Thread safety: any thread.
///
/// Pointers: `config_path` is NULL or NUL-terminated; `report` is NULL or `report_len` writable
/// bytes; `report_out_len` is NULL or writable; `engine_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_new_from_file(
    config_path: *const c_char,
    report: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
    engine_out: *mut *const mqward_engine,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let source = unsafe { strings::c_str(config_path) }.and_then(Source::file);
        // SAFETY: the caller's guarantees for the outputs are the ones `create` needs.
        unsafe { create(source, report, report_len, report_out_len, engine_out) }
    })
}

/// Creates an engine from a configuration held in memory (`config_len` bytes of JSON). Files
/// it names are read relative to `base_dir` (NUL-terminated; NULL for the current directory,
/// resolved now) unless absolute. Otherwise as `mqward_engine_new_from_file`.
///
/// Thread safety: any thread.
///
/// Pointers: `config` is NULL or `config_len` readable bytes; `base_dir` is NULL or NUL-terminated;
/// outputs as for `mqward_engine_new_from_file`.
#[no_mangle]
pub extern "C" fn mqward_engine_new_from_buffer(
    config: *const u8,
    config_len: usize,
    base_dir: *const c_char,
    report: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
    engine_out: *mut *const mqward_engine,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees the buffer and the optional NUL-terminated base.
        let source = unsafe { buffer_source(config, config_len, base_dir) };
        // SAFETY: the caller's guarantees for the outputs are the ones `create` needs.
        unsafe { create(source, report, report_len, report_out_len, engine_out) }
    })
}

/// # Safety
///
/// `config` is NULL or `config_len` readable bytes; `base_dir` is NULL or NUL-terminated.
unsafe fn buffer_source(
    config: *const u8,
    config_len: usize,
    base_dir: *const c_char,
) -> Result<Source> {
    // SAFETY: the caller guarantees `config_len` readable bytes at `config`.
    let config = unsafe { strings::bytes(config, config_len) }?;
    let base = if base_dir.is_null() {
        None
    } else {
        // SAFETY: not NULL; the caller guarantees a NUL-terminated string.
        Some(unsafe { strings::c_str(base_dir) }?)
    };
    Ok(Source::buffer(config, base))
}

/// Reloads the engine from where it was created (the configuration file, or the buffer kept
/// from `mqward_engine_new_from_buffer` whose files are read again). Everything is read and
/// compiled first: on any problem nothing changes, the previous policy and credentials stay
/// in force and the report lists the problems. On success a `MQWARD_EVENT_KIND_RELOADED` event
/// is queued; live sessions and identities are decided by the new policy from their next
/// decision. Certificate states changed since the registry file was last written are replaced
/// by the file's: persist state changes (`MQWARD_EVENT_KIND_STATE_CHANGED`) before reloading.
///
/// Report as for `mqward_engine_new_from_file`.
///
/// Thread safety: any thread, while other threads decide; reloads are serialized.
///
/// Pointers: `engine` is NULL or a live engine; `report` is NULL or `report_len` writable bytes;
/// `report_out_len` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_reload(
    engine: *const mqward_engine,
    report: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
) -> mqward_result {
    // SAFETY: the caller's guarantees are the ones `reload` needs.
    boundary(|| unsafe { reload(engine, Ok(None), report, report_len, report_out_len) })
}

/// Reloads the engine from another configuration file, which becomes the engine's source for
/// `mqward_engine_reload` when it succeeds. Otherwise as `mqward_engine_reload`.
///
/// Thread safety: any thread, while other threads decide; reloads are serialized.
///
/// Pointers: As for `mqward_engine_reload`; `config_path` is NULL or NUL-terminated.
#[no_mangle]
pub extern "C" fn mqward_engine_reload_from_file(
    engine: *const mqward_engine,
    config_path: *const c_char,
    report: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let source = unsafe { strings::c_str(config_path) }.and_then(Source::file);
        // SAFETY: the caller's guarantees are the ones `reload` needs.
        unsafe { reload(engine, source.map(Some), report, report_len, report_out_len) }
    })
}

/// Reloads the engine from a configuration held in memory, whose files are read relative to
/// `base_dir` (NULL: the current directory); on success it becomes the engine's source.
/// Otherwise as `mqward_engine_reload`.
///
/// Thread safety: any thread, while other threads decide; reloads are serialized.
///
/// Pointers: As for `mqward_engine_reload`; `config` is NULL or `config_len` readable bytes;
/// `base_dir` is NULL or NUL-terminated.
#[no_mangle]
pub extern "C" fn mqward_engine_reload_from_buffer(
    engine: *const mqward_engine,
    config: *const u8,
    config_len: usize,
    base_dir: *const c_char,
    report: *mut c_char,
    report_len: usize,
    report_out_len: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees the buffer and the optional NUL-terminated base.
        let source = unsafe { buffer_source(config, config_len, base_dir) };
        // SAFETY: the caller's guarantees are the ones `reload` needs.
        unsafe { reload(engine, source.map(Some), report, report_len, report_out_len) }
    })
}

/// Ends the sessions whose credential expired or whose trust duration passed (each a
/// `MQWARD_EVENT_KIND_DISCONNECT` event), then delivers pending events to the callback if one
/// is registered. Call it from a timer, about once a second: events a decision discovers (a
/// session found expired) wait for the next tick.
///
/// Thread safety: any thread; the event callback runs on this thread.
///
/// Pointers: `engine` is NULL or a live engine.
#[no_mangle]
pub extern "C" fn mqward_engine_tick(engine: *const mqward_engine) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine.
        let engine = unsafe { engine_ref(engine) }?;
        engine.engine.tick(host::now()?);
        engine.events.pump(&engine.engine);
        Ok(())
    })
}

/// Writes the number of live sessions to `*count_out`.
///
/// Thread safety: any thread.
///
/// Pointers: `engine` is NULL or a live engine; `count_out` is NULL or writable.
#[no_mangle]
pub extern "C" fn mqward_engine_session_count(
    engine: *const mqward_engine,
    count_out: *mut usize,
) -> mqward_result {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or a live engine, and NULL or a writable count.
        let (engine, out) = unsafe { (engine_ref(engine)?, Out::new(count_out)?) };
        out.write(engine.engine.session_count());
        Ok(())
    })
}

/// Releases the engine handle. Identities made from it keep the engine alive until they are
/// freed too; its sessions end with it. NULL, and a handle freed already while its memory is
/// still readable, are ignored.
///
/// Thread safety: only once every other call on this engine has returned, and never from the
/// event callback.
///
/// Pointers: `engine` is NULL or an engine not used after this call.
#[no_mangle]
pub extern "C" fn mqward_engine_free(engine: *const mqward_engine) {
    boundary(|| {
        // SAFETY: the caller guarantees NULL or an engine no other thread is using.
        unsafe { handle::free_arc(engine) };
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_resolve_against_the_current_directory_now() {
        let Source::File(p) = Source::file("x/config.json").unwrap() else {
            panic!("a file source");
        };
        assert!(p.is_absolute() && p.ends_with("x/config.json"));
        assert_eq!(Source::file("").err(), Some(mqward_result::InvalidArgument));
        let Source::Buffer { base, .. } = Source::buffer(b"{}", None) else {
            panic!("a buffer source");
        };
        assert!(base.is_absolute());
    }

    #[test]
    fn problems_name_the_configuration_file() {
        let missing = Source::file("/nonexistent/mqward.json").unwrap();
        let f = missing.apply(Engine::from_config).unwrap_err();
        assert_eq!(f.code, mqward_result::Io);
        assert!(
            f.report.contains("/nonexistent/mqward.json"),
            "{}",
            f.report
        );
        let bad = Source::buffer(
            br#"{"version":1,"policy":"p.json","x":1}"#,
            Some("/nonexistent"),
        );
        let f = bad.apply(Engine::from_config).unwrap_err();
        assert_eq!(f.code, mqward_result::InvalidConfiguration);
        assert!(f.report.contains("unknown field"), "{}", f.report);
        let unreadable =
            Source::buffer(br#"{"version":1,"policy":"p.json"}"#, Some("/nonexistent"));
        let f = unreadable.apply(Engine::from_config).unwrap_err();
        assert_eq!(f.code, mqward_result::InvalidConfiguration);
        assert!(f.report.contains("/nonexistent/p.json"), "{}", f.report);
    }
}
