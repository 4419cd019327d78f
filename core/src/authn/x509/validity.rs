//! The validity window of a verified path: the latest notBefore and the earliest notAfter.

use x509_cert::Certificate;

/// Seconds since the Unix epoch within which every certificate of a path is valid (both ends
/// included, as webpki counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
}

impl Window {
    /// The window of one certificate.
    pub(crate) fn of(cert: &Certificate) -> Window {
        let validity = cert.tbs_certificate().validity();
        Window {
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
        }
    }

    /// Narrows the window to the part where `cert` is valid too.
    pub(crate) fn narrow(&mut self, cert: &Certificate) {
        let other = Window::of(cert);
        self.not_before = self.not_before.max(other.not_before);
        self.not_after = self.not_after.min(other.not_after);
    }
}
