//! Small helpers for code that runs in the browser (the page, the call, the dashboard). They
//! compile everywhere, like the components that use them, and do nothing useful off a browser.

use js_sys::Promise;
use leptos::prelude::{SetValue, StoredValue, WithValue};
use send_wrapper::SendWrapper;
use wasm_bindgen_futures::JsFuture;

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// A value that exists only in the browser, such as a socket or a call's peer connections,
/// which are not `Send`. Empty on the server.
///
/// Why not `StoredValue::new_local`: that wraps the value in a `SendWrapper`, which panics when
/// dropped on another thread than its own, and the server drops a rendered page's reactive
/// owner on whichever Tokio worker finishes the response (over TLS, often another one): the
/// panic cut pages short. Here the server only ever holds `None`, which drops anywhere, and
/// the value is set in an effect or an event handler, which run only in the browser.
pub struct BrowserOnly<T: 'static>(StoredValue<Option<SendWrapper<T>>>);

impl<T> Clone for BrowserOnly<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for BrowserOnly<T> {}

impl<T> Default for BrowserOnly<T> {
    fn default() -> Self {
        Self(StoredValue::new(None))
    }
}

impl<T> BrowserOnly<T> {
    /// Stores `value`, dropping the one before. Call it only in the browser.
    pub fn set(&self, value: T) {
        self.0.set_value(Some(SendWrapper::new(value)));
    }

    /// `f` applied to the value; `None` before [`Self::set`], and always on the server.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.0.with_value(|value| value.as_deref().map(f))
    }
}
