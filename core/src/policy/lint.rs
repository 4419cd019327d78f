//! Lints: valid documents that probably do not say what their author meant.
