//! Small helpers for code that runs in the browser (the page, the call, the dashboard). They
//! compile everywhere, like the components that use them, and do nothing useful off a browser.

use js_sys::Promise;
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
