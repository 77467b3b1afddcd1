//! `signalroom token`: a join token signed with the configured secret, for scripts and for
//! trying tokens out (an application's backend mints its own; see the README).

use anyhow::{bail, Context};

use super::auth::{token, Claims, Role, Tokens};
use super::config::{Config, TokenArgs};

/// The token for `args`, checked as the server would check it.
pub fn mint(config: &Config, args: &TokenArgs) -> anyhow::Result<String> {
    let Some(secret) = &config.auth_secret else {
        bail!("signalroom token needs --auth-secret (or SIGNALROOM_AUTH_SECRET)");
    };
    let now = token::now();
    let claims = Claims {
        exp: now.saturating_add(args.ttl),
        iat: Some(now),
        sub: args.sub.clone(),
        name: args.name.clone(),
        rooms: (!args.rooms.is_empty()).then(|| args.rooms.clone()),
        role: (args.role == "moderator").then_some(Role::Moderator),
        capacity: args.capacity,
        ..Claims::default()
    };
    let tokens = Tokens::new(secret.as_bytes(), config.auth_leeway);
    let token = tokens.mint(&claims);
    tokens
        .verify(&token)
        .context("these claims would be refused")?;
    Ok(token)
}

/// Prints the token on stdout, alone on its line.
pub fn print(config: &Config, args: &TokenArgs) -> anyhow::Result<()> {
    println!("{}", mint(config, args)?);
    Ok(())
}
