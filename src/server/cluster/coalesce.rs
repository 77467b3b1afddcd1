//! Fewer Redis messages for the same events: publishes waiting in one batch merge into one
//! `PUBLISH` per channel, their lines joined (a channel message may hold several lines, see
//! [`super::wire`]). Each Redis message costs both instances and Redis a command, a reply, a push
//! and their parsing, whatever it carries, so at saturation this is most of the cluster's cost.
//!
//! Merging must not reorder any sender's events. Within a run of publishes (never across a
//! script call, whose changes are ordered with them), publishes to one channel keep their order;
//! moving one ahead of a publish to *another* channel could reorder a sender's events only if
//! that sender published on both. So a run is grouped by channel when each sender in it used one
//! channel, and otherwise only consecutive publishes to the same channel merge.

use std::collections::HashMap;

use socketioxide::socket::Sid;

use super::op::Op;

/// Merges the publishes of `batch` as the module says, keeping everything else in place.
pub(super) fn publishes(batch: &mut Vec<Op>) {
    if batch
        .iter()
        .filter(|op| matches!(op, Op::Publish { .. }))
        .count()
        < 2
    {
        return;
    }
    let mut merged = Vec::with_capacity(batch.len());
    let mut run = Vec::new();
    for op in batch.drain(..) {
        if matches!(op, Op::Publish { .. }) {
            run.push(op);
        } else {
            merge_run(&mut run, &mut merged);
            merged.push(op);
        }
    }
    merge_run(&mut run, &mut merged);
    *batch = merged;
}

/// Merges one run of publishes into `out`.
fn merge_run(run: &mut Vec<Op>, out: &mut Vec<Op>) {
    // First where each publish goes (the index in `run` of the first of its group), reading the
    // channels in place; then the moves.
    let group = groups(run);
    let mut lengths = vec![0; run.len()];
    for (i, op) in run.iter().enumerate() {
        if let Op::Publish { payload, .. } = op {
            lengths[group[i]] += payload.len() + 1;
        }
    }
    let mut position = vec![0; run.len()];
    for (i, op) in run.drain(..).enumerate() {
        if group[i] == i {
            position[i] = out.len();
            let mut op = op;
            if let Op::Publish { payload, .. } = &mut op {
                payload.reserve(lengths[i] - payload.len());
            }
            out.push(op);
        } else {
            join(&mut out[position[group[i]]], op);
        }
    }
}

/// For each publish of `run`, the index of the first publish of the group it joins (itself if
/// it starts one).
fn groups(run: &[Op]) -> Vec<usize> {
    fn channel(op: &Op) -> &str {
        match op {
            Op::Publish { channel, .. } => channel,
            _ => unreachable!("a run holds publishes only"),
        }
    }
    let by_channel = each_sender_on_one_channel(run);
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut group = Vec::with_capacity(run.len());
    for (i, op) in run.iter().enumerate() {
        let name = channel(op);
        let g = if by_channel {
            *first.entry(name).or_insert(i)
        } else if i > 0 && channel(&run[i - 1]) == name {
            group[i - 1] // Only onto the publish just before, to the same channel.
        } else {
            i
        };
        group.push(g);
    }
    group
}

fn each_sender_on_one_channel(run: &[Op]) -> bool {
    let mut channel_of: HashMap<Sid, &str> = HashMap::new();
    run.iter().all(|op| match op {
        Op::Publish {
            channel,
            origin: Some((sid, _)),
            ..
        } => *channel_of.entry(*sid).or_insert(channel) == channel.as_str(),
        _ => true,
    })
}

/// Appends publish `next`'s lines and origins to publish `into` (same channel).
fn join(into: &mut Op, next: Op) {
    let (
        Op::Publish {
            payload, merged, ..
        },
        Op::Publish {
            payload: more,
            origin,
            merged: also,
            ..
        },
    ) = (into, next)
    else {
        unreachable!("only publishes are joined")
    };
    payload.push('\n');
    payload.push_str(&more);
    merged.extend(origin);
    merged.extend(also);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RoomName;
    use crate::server::cluster::Reason;

    fn publish(channel: &str, payload: &str, sender: Option<Sid>) -> Op {
        Op::Publish {
            channel: channel.to_owned(),
            payload: payload.to_owned(),
            origin: sender.map(|sid| (sid, "message")),
            merged: Vec::new(),
        }
    }

    fn unseat(sid: Sid) -> Op {
        Op::Unseat {
            sid,
            rooms: vec![RoomName::parse("r").unwrap()],
            everywhere: false,
            reason: Reason::Left,
        }
    }

    /// Each op as (channel, payload, number of senders told of a failure), or "-" for others.
    fn shape(batch: &[Op]) -> Vec<(String, String, usize)> {
        batch
            .iter()
            .map(|op| match op {
                Op::Publish {
                    channel,
                    payload,
                    origin,
                    merged,
                } => (
                    channel.clone(),
                    payload.clone(),
                    usize::from(origin.is_some()) + merged.len(),
                ),
                _ => ("-".into(), "-".into(), 0),
            })
            .collect()
    }

    fn row(channel: &str, payload: &str, told: usize) -> (String, String, usize) {
        (channel.into(), payload.into(), told)
    }

    #[test]
    fn publishes_group_by_channel_when_each_sender_uses_one() {
        let (a, b) = (Sid::new(), Sid::new());
        let mut batch = vec![
            publish("x", "a1", Some(a)),
            publish("y", "b1", Some(b)),
            publish("x", "a2", Some(a)),
            publish("y", "b2", Some(b)),
            publish("x", "n", None),
        ];
        publishes(&mut batch);
        assert_eq!(
            shape(&batch),
            vec![row("x", "a1\na2\nn", 2), row("y", "b1\nb2", 2)]
        );
    }

    #[test]
    fn a_sender_on_two_channels_keeps_its_order() {
        // a's x1, y1, x2 must stay in that order: grouping x would put x2 before y1.
        let a = Sid::new();
        let mut batch = vec![
            publish("x", "x1", Some(a)),
            publish("x", "x1b", Some(a)),
            publish("y", "y1", Some(a)),
            publish("x", "x2", Some(a)),
        ];
        publishes(&mut batch);
        assert_eq!(
            shape(&batch),
            vec![row("x", "x1\nx1b", 2), row("y", "y1", 1), row("x", "x2", 1)]
        );
    }

    #[test]
    fn nothing_merges_across_another_operation() {
        let a = Sid::new();
        let mut batch = vec![
            publish("x", "1", Some(a)),
            unseat(a),
            publish("x", "2", Some(a)),
            publish("x", "3", Some(a)),
        ];
        publishes(&mut batch);
        assert_eq!(
            shape(&batch),
            vec![row("x", "1", 1), row("-", "-", 0), row("x", "2\n3", 2)]
        );
    }
}
