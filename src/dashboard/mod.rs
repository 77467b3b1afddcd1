//! The operator's dashboard at `/admin` (with `--api-key`): this instance's connections, its
//! rooms and their members (name, how long they have been in, transport), what happened lately,
//! and charts of events and connections; a member can be removed and a room closed from it.
//!
//! The page asks for the API key and keeps it in the tab's `sessionStorage` (gone when the tab
//! closes); every call sends it as the server API's bearer key. It asks for a snapshot, and
//! again at once with the version it has: the server answers as soon as something changes, and
//! at least once a second for the charts.
//!
//! - [`snapshot`]: what the server answers and the page shows.
//! - [`api`]: the page's calls to the server API.
//! - [`chart`]: the line charts.

pub mod api;
pub mod chart;
pub mod snapshot;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::sleep;
use api::CallError;
use chart::Sparkline;
use snapshot::{Happening, Person, RoomRow, Snapshot};

/// Where the tab keeps the key.
const KEY_ITEM: &str = "signalroom-api-key";
/// How long the page waits before asking again after a failed call.
const RETRY_MS: i32 = 2000;

/// The dashboard's state: a cheap-to-copy set of signals.
#[derive(Clone, Copy)]
struct Board {
    /// The key in use, once one was accepted or is being tried.
    key: RwSignal<Option<String>>,
    snapshot: RwSignal<Option<Snapshot>>,
    notice: RwSignal<String>,
    /// Counts keys given: a watch for an older one stops.
    generation: StoredValue<u32>,
}

impl Board {
    /// Starts watching the server with `key`.
    fn watch(self, key: String) {
        let generation = self.generation.get_value() + 1;
        self.generation.set_value(generation);
        self.key.set(Some(key.clone()));
        self.notice.set("Connecting…".into());
        spawn_local(async move {
            let mut after = None;
            while self.generation.get_value() == generation {
                match api::snapshot(&key, after).await {
                    Ok(snapshot) => {
                        if self.generation.get_value() != generation {
                            return;
                        }
                        if after.is_none() {
                            store_key(Some(&key));
                            self.notice.set(String::new());
                        }
                        after = Some(snapshot.version);
                        self.snapshot.set(Some(snapshot));
                    }
                    Err(CallError::Refused) => {
                        if self.generation.get_value() == generation {
                            self.forget(CallError::Refused.to_string());
                        }
                        return;
                    }
                    Err(err) => {
                        self.notice.set(format!("{err}; trying again"));
                        sleep(RETRY_MS).await;
                    }
                }
            }
        });
    }

    /// Stops watching and forgets the key, saying `why`.
    fn forget(self, why: String) {
        self.generation.update_value(|g| *g += 1);
        store_key(None);
        self.key.set(None);
        self.snapshot.set(None);
        self.notice.set(why);
    }

    /// Runs an action with the key; its outcome shows in the next snapshot, or as a notice.
    fn act<F>(self, action: impl FnOnce(String) -> F + 'static)
    where
        F: std::future::Future<Output = Result<(), CallError>> + 'static,
    {
        let Some(key) = self.key.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match action(key).await {
                Ok(()) => {}
                Err(CallError::Refused) => self.forget(CallError::Refused.to_string()),
                Err(err) => self.notice.set(err.to_string()),
            }
        });
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let board = Board {
        key: RwSignal::new(None),
        snapshot: RwSignal::new(None),
        notice: RwSignal::new(String::new()),
        generation: StoredValue::new(0),
    };
    let hydrated = RwSignal::new(false);
    let key_field = NodeRef::<html::Input>::new();
    // Effects run only in the browser: a key kept by this tab is used at once.
    Effect::new(move || {
        if let Some(key) = stored_key() {
            board.watch(key);
        }
        hydrated.set(true);
    });
    let open = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(field) = key_field.get_untracked() else {
            return;
        };
        let key = field.value().trim().to_owned();
        if key.is_empty() {
            board
                .notice
                .set("Enter the server's API key (--api-key).".into());
            return;
        }
        field.set_value("");
        board.watch(key);
    };
    let watching = move || board.key.get().is_some();
    view! {
        <main class="admin" data-hydrated=move || hydrated.get().to_string()>
            <header class="row">
                <h1>"signalroom dashboard"</h1>
                <Show when=watching>
                    <button id="forget-key" on:click=move |_| board.forget("Key forgotten.".into())>"Forget key"</button>
                </Show>
            </header>
            <Show when=move || !watching()>
                <form id="key-form" class="row" on:submit=open>
                    <label>"API key: " <input node_ref=key_field id="api-key" type="password" autocomplete="off"/></label>
                    <button id="open-dashboard" type="submit">"Open"</button>
                </form>
            </Show>
            <p id="notice" role="status">{move || board.notice.get()}</p>
            <Show when=move || board.snapshot.with(Option::is_some)>
                <Overview board/>
            </Show>
        </main>
    }
}

/// Everything the snapshot holds.
#[component]
fn Overview(board: Board) -> impl IntoView {
    let snapshot = board.snapshot;
    let get = move |f: fn(&Snapshot) -> String| move || snapshot.with(|s| s.as_ref().map(f));
    let now = Signal::derive(move || snapshot.with(|s| s.as_ref().map_or(0, |s| s.now)));
    let series = move |f: fn(&snapshot::Sample) -> u64| {
        Signal::derive(move || {
            snapshot.with(|s| {
                s.as_ref()
                    .map_or_else(Vec::new, |s| s.series.iter().map(f).collect())
            })
        })
    };
    let rooms = move || snapshot.with(|s| s.as_ref().map_or_else(Vec::new, |s| s.rooms.clone()));
    let recent = move || snapshot.with(|s| s.as_ref().map_or_else(Vec::new, |s| s.recent.clone()));
    view! {
        <section class="figures" aria-label="This instance">
            <p>"Connections: " <strong id="connections">{get(|s| s.connections.to_string())}</strong></p>
            <p>"Rooms: " <strong id="room-count">{get(|s| (s.rooms.len() + s.more_rooms).to_string())}</strong></p>
            <p>"Instance: " <strong id="instance">{get(cluster_line)}</strong></p>
        </section>
        <section class="charts">
            <Sparkline id="events-chart" title="Events per second" values=series(|s| s.events)/>
            <Sparkline id="connections-chart" title="Connections" values=series(|s| s.connections as u64)/>
        </section>
        <section aria-label="Rooms">
            <h2>"Rooms"</h2>
            <p class="empty">{move || snapshot.with(|s| match s {
                Some(s) if s.rooms.is_empty() => "No one is in a room.".to_owned(),
                Some(s) if s.more_rooms > 0 => format!("The {} fullest rooms; {} more.", s.rooms.len(), s.more_rooms),
                _ => String::new(),
            })}</p>
            <ul id="rooms" class="rooms">
                <For each=rooms key=|row| row.clone() let:row>
                    <Room row now board/>
                </For>
            </ul>
        </section>
        <section aria-label="Recent activity">
            <h2>"Recent activity (UTC)"</h2>
            <ol id="recent" class="recent">
                <For each=recent key=|h| h.clone() let:happening>
                    <Line happening/>
                </For>
            </ol>
        </section>
    }
}

fn cluster_line(snapshot: &Snapshot) -> String {
    match (&snapshot.node, snapshot.redis_up) {
        (Some(node), Some(true)) => format!("{node}, Redis up"),
        (Some(node), _) => format!("{node}, Redis DOWN"),
        _ => "single process".to_owned(),
    }
}

#[component]
fn Room(row: RoomRow, now: Signal<u64>, board: Board) -> impl IntoView {
    let RoomRow {
        room,
        locked,
        members,
        people,
    } = row;
    let close = {
        let room = room.clone();
        move |_| {
            let room = room.clone();
            board.act(move |key| async move { api::close(&key, &room).await });
        }
    };
    let people = people
        .into_iter()
        .map(|person| view! { <Member person room=room.clone() now board/> })
        .collect_view();
    view! {
        <li class="room" data-room=room.clone()>
            <div class="row">
                <h3>{room.clone()}</h3>
                <span class="count">{format!("{members} member{}", if members == 1 { "" } else { "s" })}</span>
                {locked.then(|| view! { <span class="locked">"locked"</span> })}
                <button class="close-room" on:click=close>"Close room"</button>
            </div>
            <table>
                <thead><tr><th>"Name"</th><th>"Id"</th><th>"In for"</th><th>"Transport"</th><th></th></tr></thead>
                <tbody>{people}</tbody>
            </table>
        </li>
    }
}

#[component]
fn Member(person: Person, room: String, now: Signal<u64>, board: Board) -> impl IntoView {
    let Person {
        id,
        name,
        sub,
        joined_at,
        transport,
        instance,
    } = person;
    let kick = {
        let id = id.clone();
        move |_| {
            let (room, id) = (room.clone(), id.clone());
            board.act(move |key| async move { api::remove(&key, &room, &id).await });
        }
    };
    let name = match sub {
        Some(sub) => format!("{name} ({sub})"),
        None => name,
    };
    let shown_id = id.clone();
    let how = match (transport, instance) {
        (Some(transport), _) => transport,
        (None, Some(instance)) => format!("on {instance}"),
        (None, None) => String::new(),
    };
    view! {
        <tr class="member" data-id=id>
            <td class="name">{name}</td>
            <td class="id">{shown_id}</td>
            <td class="since">{move || joined_at.map(|at| duration(now.get().saturating_sub(at))).unwrap_or_default()}</td>
            <td class="transport">{how}</td>
            <td><button class="kick" on:click=kick>"Kick"</button></td>
        </tr>
    }
}

#[component]
fn Line(happening: Happening) -> impl IntoView {
    let Happening {
        at,
        kind,
        room,
        id,
        name,
        detail,
    } = happening;
    let who = name.or(id).unwrap_or_default();
    let room = room.map(|r| format!("in {r}")).unwrap_or_default();
    let detail = detail.map(|d| format!("({d})")).unwrap_or_default();
    let class = if kind.is_trouble() { "trouble" } else { "" };
    view! {
        <li class=class data-kind=kind.label()>
            <time>{clock(at)}</time>" "
            <span class="kind">{kind.label()}</span>" "
            <span class="who">{who}</span>" "{room}" "{detail}
        </li>
    }
}

/// `ms` as people read a stay: `42s`, `3m 07s`, `2h 05m`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The UTC time of day of `ms` since the epoch, `HH:MM:SS`.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The key this tab kept, if any.
fn stored_key() -> Option<String> {
    let storage = web_sys::window()?.session_storage().ok()??;
    storage.get_item(KEY_ITEM).ok()?.filter(|k| !k.is_empty())
}

/// Keeps `key` for this tab, or forgets it.
fn store_key(key: Option<&str>) {
    let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) else {
        return;
    };
    let _ = match key {
        Some(key) => storage.set_item(KEY_ITEM, key),
        None => storage.remove_item(KEY_ITEM),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_read_as_people_say_them() {
        assert_eq!(duration(999), "0s");
        assert_eq!(duration(42_000), "42s");
        assert_eq!(duration(187_000), "3m 07s");
        assert_eq!(duration(7_500_000), "2h 05m");
    }

    #[test]
    fn times_of_day_are_utc() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock((86_400 + 3_723) * 1000 + 999), "01:02:03");
    }
}
