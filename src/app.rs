//! The HTML shell and the page's root component.

use leptos::config::LeptosOptions;
use leptos::prelude::*;

use crate::chat::Chat;
use crate::dashboard::Dashboard;

/// cargo-leptos names the bundle after the package (see `[package.metadata.leptos]`).
pub const OUTPUT_NAME: &str = env!("CARGO_PKG_NAME");
/// Where the bundle is served from, under the site root.
pub const PKG_DIR: &str = "pkg";

/// Where the dashboard is served (with `--api-key`).
pub const ADMIN_PATH: &str = "/admin";

/// The chat room's whole document, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    document(options, "signalroom", view! { <App/> })
}

/// The dashboard's whole document, rendered on the server.
pub fn admin_shell(options: LeptosOptions) -> impl IntoView {
    document(options, "signalroom dashboard", view! { <Dashboard/> })
}

fn document(options: LeptosOptions, title: &'static str, body: impl IntoView) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::security::set_content_security_policy();
    let stylesheet = format!("/{PKG_DIR}/{OUTPUT_NAME}.css");
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{title}</title>
                <link rel="stylesheet" href=stylesheet/>
                <link rel="icon" href="data:,"/>
                <HydrationScripts options/>
            </head>
            <body>{body}</body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    view! {
        <main class="room">
            <h1>"signalroom"</h1>
            <Chat/>
        </main>
    }
}
