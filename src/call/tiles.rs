//! The video grid: one tile (a `<video>` and a name) per participant, added and removed as
//! peers come and go. Built with the DOM directly because tiles hold `MediaStream`s, which
//! live only in the browser; the grid's container is rendered by Leptos and stays empty there.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlVideoElement, MediaStream};

/// The id of the grid's container element.
pub const GRID_ID: &str = "videos";
/// The `data-peer` of the local tile.
pub const LOCAL: &str = "local";

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

fn find(peer: &str) -> Option<Element> {
    document()?
        .get_element_by_id(GRID_ID)?
        .query_selector(&format!(r#".tile[data-peer="{peer}"]"#))
        .ok()?
}

/// Shows `stream` in `peer`'s tile, creating the tile if needed. The local tile is muted so
/// people do not hear themselves.
pub fn show(peer: &str, name: &str, stream: Option<&MediaStream>) {
    let Some(tile) = find(peer).or_else(|| create(peer, name)) else {
        return;
    };
    let Some(video) = tile
        .query_selector("video")
        .ok()
        .flatten()
        .and_then(|v| v.dyn_into::<HtmlVideoElement>().ok())
    else {
        return;
    };
    if let Some(stream) = stream {
        video.set_src_object(Some(stream));
        play(video);
    }
}

/// Marks a tile with its peer connection's state (`data-state`), for people and tests.
pub fn set_state(peer: &str, state: &str) {
    if let Some(tile) = find(peer) {
        let _ = tile.set_attribute("data-state", state);
    }
}

/// Marks a tile whose peer's connection to the server dropped (`data-away`): it may come back.
pub fn set_away(peer: &str, away: bool) {
    if let Some(tile) = find(peer) {
        let _ = tile.set_attribute("data-away", if away { "true" } else { "false" });
    }
}

pub fn remove(peer: &str) {
    if let Some(tile) = find(peer) {
        tile.remove();
    }
}

/// Removes every tile.
pub fn clear() {
    if let Some(grid) = document().and_then(|d| d.get_element_by_id(GRID_ID)) {
        grid.set_text_content(None);
    }
}

fn create(peer: &str, name: &str) -> Option<Element> {
    let document = document()?;
    let grid = document.get_element_by_id(GRID_ID)?;
    let tile = document.create_element("div").ok()?;
    tile.set_class_name("tile");
    tile.set_attribute("data-peer", peer).ok()?;
    let video: HtmlVideoElement = document.create_element("video").ok()?.dyn_into().ok()?;
    video.set_autoplay(true);
    video.set_attribute("playsinline", "").ok()?;
    video.set_muted(peer == LOCAL);
    let label = document.create_element("span").ok()?;
    label.set_class_name("name");
    label.set_text_content(Some(name)); // Names are shown as text, never as HTML.
    tile.append_child(&video).ok()?;
    tile.append_child(&label).ok()?;
    grid.append_child(&tile).ok()?;
    Some(tile)
}

/// Starts playback; if the browser blocks sound without a gesture, plays muted instead.
fn play(video: HtmlVideoElement) {
    let Ok(started) = video.play() else { return };
    leptos::task::spawn_local(async move {
        if wasm_bindgen_futures::JsFuture::from(started).await.is_err() {
            video.set_muted(true);
            let _ = video.play();
        }
    });
}
