//! Strings, byte slices and out-parameters across the boundary: the one place that turns the
//! caller's raw argument pointers into slices and `str`s, and writes results through the
//! caller's pointers. Handles have their own module (`handle`).

use std::ffi::{c_char, CStr};
use std::ptr::{self, NonNull};

use crate::result::{mqward_result, Result};

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(mqward_result::NullParameter);
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string living for 'a.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| mqward_result::InvalidUtf8)
}

/// A length-given byte slice argument; NULL is an error even when `len` is 0.
///
/// # Safety
///
/// `ptr` is NULL or points to `len` readable bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return Err(mqward_result::NullParameter);
    }
    if len > isize::MAX as usize {
        return Err(mqward_result::InvalidArgument);
    }
    // SAFETY: not NULL, `u8` needs no alignment, the length fits in `isize`, and the caller
    // guarantees `len` readable bytes living for 'a.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A length-given byte slice argument that may be absent (NULL).
///
/// # Safety
///
/// As for [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(ptr: *const u8, len: usize) -> Result<Option<&'a [u8]>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's guarantee is the one `bytes` needs.
    unsafe { bytes(ptr, len) }.map(Some)
}

/// A length-given UTF-8 string argument.
///
/// # Safety
///
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Result<&'a str> {
    // SAFETY: the caller's guarantee is the one `bytes` needs.
    let b = unsafe { bytes(ptr.cast(), len) }?;
    std::str::from_utf8(b).map_err(|_| mqward_result::InvalidUtf8)
}

/// A length-given UTF-8 string argument that may be absent (NULL).
///
/// # Safety
///
/// As for [`bytes`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, len: usize) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's guarantee is the one `text` needs.
    unsafe { text(ptr, len) }.map(Some)
}

/// A required out-parameter, checked for NULL and alignment on entry and written at the end,
/// so that nothing is written when the call fails.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Checks an out-parameter.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or points to memory writable as a `T` until [`Out::write`] (it may be
    /// uninitialized).
    pub unsafe fn new(ptr: *mut T) -> Result<Out<T>> {
        let ptr = NonNull::new(ptr).ok_or(mqward_result::NullParameter)?;
        if !ptr.as_ptr().is_aligned() {
            return Err(mqward_result::InvalidArgument);
        }
        Ok(Out(ptr))
    }

    /// Writes the output (without dropping what was there: outputs are plain C values).
    pub fn write(&self, value: T) {
        // SAFETY: `new` checked NULL and alignment; its caller guaranteed the memory writable.
        unsafe { ptr::write(self.0.as_ptr(), value) }
    }
}

/// A caller's text buffer (`buf`, `len`) and the optional `out_len` that receives a text's full
/// length without the NUL.
pub(crate) struct TextOut {
    buf: *mut u8,
    len: usize,
    out_len: Option<Out<usize>>,
}

impl TextOut {
    /// Checks a text buffer: `buf` may be NULL only with `len` 0 (to ask for the length).
    ///
    /// # Safety
    ///
    /// `buf` is NULL or points to `len` writable bytes; `out_len` is NULL or points to a
    /// writable `size_t`; neither overlaps another argument of the call.
    pub unsafe fn new(buf: *mut c_char, len: usize, out_len: *mut usize) -> Result<TextOut> {
        if buf.is_null() && len > 0 {
            return Err(mqward_result::NullParameter);
        }
        if len > isize::MAX as usize {
            return Err(mqward_result::InvalidArgument);
        }
        let out_len = if out_len.is_null() {
            None
        } else {
            // SAFETY: not NULL; the caller guarantees a writable `size_t`.
            Some(unsafe { Out::new(out_len) }?)
        };
        Ok(TextOut {
            buf: buf.cast(),
            len,
            out_len,
        })
    }

    /// Copies `bytes` and a NUL to the buffer; the caller checked they fit.
    fn put(&self, bytes: &[u8]) {
        debug_assert!(bytes.len() < self.len);
        // SAFETY: `new` checked `buf` is not NULL when `len > 0`, and `bytes.len() + 1 <= len`
        // bytes are writable by the caller's guarantee. `ptr::copy` allows overlap with the
        // source, should a caller pass overlapping memory.
        unsafe {
            ptr::copy(bytes.as_ptr(), self.buf, bytes.len());
            self.buf.add(bytes.len()).write(0);
        }
    }

    fn report_len(self, full: usize) {
        if let Some(out) = self.out_len {
            out.write(full);
        }
    }
}

/// Writes a value whole or not at all: when `text` and its NUL do not fit, the buffer is left
/// alone, `*out_len` gets the length needed and the result is `INSUFFICIENT_SIZE` (call again
/// with `out_len + 1` bytes).
pub(crate) fn write_exact(text: &str, out: TextOut) -> Result<()> {
    if text.len() >= out.len {
        out.report_len(text.len());
        return Err(mqward_result::InsufficientSize);
    }
    out.put(text.as_bytes());
    out.report_len(text.len());
    Ok(())
}

/// Writes a message for people: cut at a character boundary to fit with its NUL (the cut text
/// is still written), `*out_len` gets the full length; `INSUFFICIENT_SIZE` when it was cut.
pub(crate) fn write_message(text: &str, out: TextOut) -> Result<()> {
    let fits = text.len() < out.len;
    if out.len > 0 {
        let mut end = text.len().min(out.len - 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.put(&text.as_bytes()[..end]);
    }
    out.report_len(text.len());
    if fits {
        Ok(())
    } else {
        Err(mqward_result::InsufficientSize)
    }
}

/// Overwrites a secret before its memory is released (volatile writes, which the compiler may
/// not remove as dead stores).
pub(crate) fn wipe(secret: &mut [u8]) {
    for byte in secret.iter_mut() {
        // SAFETY: `byte` is a valid, aligned, exclusive reference.
        unsafe { ptr::write_volatile(byte, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(buf: &mut [u8], out_len: &mut usize) -> TextOut {
        // SAFETY: both point to live, writable local memory of the given sizes.
        unsafe { TextOut::new(buf.as_mut_ptr().cast(), buf.len(), out_len) }.unwrap()
    }

    #[test]
    fn exact_text_is_whole_or_absent() {
        let (mut buf, mut n) = ([0xffu8; 6], 0);
        assert_eq!(write_exact("hello", out(&mut buf, &mut n)), Ok(()));
        assert_eq!((&buf, n), (b"hello\0", 5));
        let (mut buf, mut n) = ([0xffu8; 5], 0);
        assert_eq!(
            write_exact("hello", out(&mut buf, &mut n)),
            Err(mqward_result::InsufficientSize)
        );
        assert_eq!((buf, n), ([0xff; 5], 5));
        let mut n = 0;
        // SAFETY: NULL with length 0 asks for the length; `n` is writable.
        let query = unsafe { TextOut::new(ptr::null_mut(), 0, &mut n) }.unwrap();
        assert_eq!(
            write_exact("abc", query),
            Err(mqward_result::InsufficientSize)
        );
        assert_eq!(n, 3);
    }

    #[test]
    fn messages_are_cut_at_character_boundaries() {
        let (mut buf, mut n) = ([0xffu8; 4], 0);
        assert_eq!(
            write_message("aéé", out(&mut buf, &mut n)),
            Err(mqward_result::InsufficientSize)
        );
        assert_eq!(&buf[..4], b"a\xc3\xa9\0");
        assert_eq!(n, 5);
        let (mut buf, mut n) = ([0xffu8; 3], 0);
        assert_eq!(
            write_message("aé", out(&mut buf, &mut n)),
            Err(mqward_result::InsufficientSize)
        );
        assert_eq!(&buf[..2], b"a\0");
    }

    #[test]
    fn arguments_are_checked() {
        // SAFETY: NULL pointers are the cases under test; the others point to live literals.
        unsafe {
            assert_eq!(c_str(ptr::null()), Err(mqward_result::NullParameter));
            assert_eq!(c_str(c"ok".as_ptr()), Ok("ok"));
            assert_eq!(c_str(c"\xff".as_ptr()), Err(mqward_result::InvalidUtf8));
            assert_eq!(bytes(ptr::null(), 0), Err(mqward_result::NullParameter));
            assert_eq!(optional_bytes(ptr::null(), 5), Ok(None));
            assert_eq!(
                text(b"\xc3".as_ptr().cast(), 1),
                Err(mqward_result::InvalidUtf8)
            );
            assert_eq!(
                bytes(b"x".as_ptr(), usize::MAX),
                Err(mqward_result::InvalidArgument)
            );
            assert!(TextOut::new(ptr::null_mut(), 1, ptr::null_mut()).is_err());
            assert!(Out::<u32>::new(ptr::null_mut()).is_err());
        }
    }

    #[test]
    fn wiped_secrets_are_zero() {
        let mut s = *b"secret";
        wipe(&mut s);
        assert_eq!(s, [0; 6]);
    }
}
